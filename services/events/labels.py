"""The events service's wording, in Chinese and English (the problem messages it returns)."""

from __future__ import annotations

from services.common.i18n import catalogue

MESSAGES = catalogue(
    {
        "target.not_found": ("目标清单中没有目标“{id}”", "no target {id!r} in the catalogue"),
        "report.not_reported": (
            "目标“{id}”由{source_zh}自动统计，只有人工填报的目标才接受填报",
            "target {id!r} is counted from {source}; only reported targets take reports",
        ),
        "report.too_early": (
            "填报期 {period} 早于 {earliest} 年",
            "the period {period} is before {earliest}",
        ),
        "report.not_ended": (
            "填报期 {period} 尚未结束（今天是 {today}）；请在期满后填报，"
            "如本月至今可按 YYYY-MM 填报",
            "the period {period} has not ended (today is {today}); report a period once it is "
            "over, e.g. the month to date as YYYY-MM",
        ),
        "report.share": (
            "覆盖率应为 0 到 100 之间的百分数，不能是 {value}",
            "a coverage is a percentage from 0 to 100, not {value}",
        ),
        "report.milestone": (
            "里程碑填 1（已完成）或 0（未完成），不能是 {value}",
            "a milestone is 1 (done) or 0 (not yet), not {value}",
        ),
        "report.evidence": (
            "里程碑填报为已完成时，须在备注中写明依据（文件、验收或决定）",
            "a milestone reported done needs its evidence in note (the document, acceptance or "
            "decision that shows it)",
        ),
        "report.finite": ("数值应为有限的数字", "the value must be a finite number"),
        "report.period": (
            "填报期应为年份（2024）、季度（2024-Q3）或月份（2024-06）",
            "use a year (2024), a quarter (2024-Q3) or a month (2024-06)",
        ),
        "replay.busy": (
            "已有重放正在生成第 {generation} 代（开始于 {started}），请等待其完成",
            "a replay is already building generation {generation} (started {started}); wait for "
            "it to finish",
        ),
        "replay.taken_over": (
            "第 {generation} 代已被放弃或被另一次重放接管",
            "generation {generation} was abandoned or taken over by another replay",
        ),
        "replay.stalled": (
            "事件流在第 {seen} 条（共 {last} 条）处停止投递，本次重放已放弃",
            "the stream stopped delivering at sequence {seen} of {last}; the replay was abandoned",
        ),
        "replay.no_nats": (
            "尚未连接 NATS，请稍后重试",
            "NATS is not connected yet; try again in a moment",
        ),
    }
)

# Where a counted target's figures come from, in Chinese (`source` of the catalogue).
SOURCE_LABELS: dict[str, str] = {"projects": "项目台账", "enterprises": "企业名录"}

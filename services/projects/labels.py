"""Chinese labels of the projects service that the catalogue does not hold: ledger, blockers."""

from __future__ import annotations

from services.common.i18n import catalogue

# 难点堵点 (article 33): what kind of problem holds a project up.
BLOCKER_KIND_LABELS: dict[str, str] = {
    "land": "用地保障",
    "funding": "资金保障",
    "approval": "审批手续",
    "demolition": "征收拆迁",
    "planning": "规划调整",
    "construction": "施工组织",
    "utilities": "水电气暖配套",
    "coordination": "部门协调",
    "other": "其他",
}
BLOCKER_KINDS: tuple[str, ...] = tuple(BLOCKER_KIND_LABELS)

# The ledger (台账) spreadsheet: one header per column, in the order the office keeps them.
LEDGER_HEADERS: dict[str, str] = {
    "name": "项目名称",
    "category": "项目类别",
    "code": "项目代码",
    "level": "项目层级",
    "sub_district": "所在街道",
    "lead_department": "牵头单位",
    "plan_clause": "对应条款",
    "quantity": "建设规模",
    "quantity_unit": "规模单位",
    "total_investment_wan": "总投资（万元）",
    "planned_start": "计划开工日期",
    "planned_completion": "计划竣工日期",
    "created_on": "录入日期",
    "stage": "当前阶段",
    "reserve_on": "入库储备日期",
    "starting_on": "开工日期",
    "building_on": "转入在建日期",
    "built_on": "建成日期",
    "cancelled_on": "取消日期",
}
LEDGER_SHEET_TITLE = "重点项目台账"
LEDGER_FILE_NAME = "芝罘区重点项目台账"

OC4IDS_PUBLISHER = "烟台市芝罘区重点项目推进办公室"

# Extra columns of the exported ledger: what a clerk reads but an import does not take back.
EXPORT_HEADERS: dict[str, str] = {
    "completed_investment_wan": "累计完成投资（万元）",
    "investment_share": "投资完成率",
    "next_milestone": "下一里程碑",
    "open_blockers": "未办结难点",
    "id": "系统编号",
    "version": "版本",
}
MILESTONE_SHEET_TITLE = "里程碑"
BLOCKER_SHEET_TITLE = "难点堵点"
MILESTONE_HEADERS: dict[str, str] = {
    "project_id": "项目系统编号",
    "project_name": "项目名称",
    "kind": "里程碑类型",
    "title": "里程碑名称",
    "due_on": "计划完成日期",
    "done_on": "实际完成日期",
    "id": "里程碑编号",
    "version": "版本",
}
BLOCKER_HEADERS: dict[str, str] = {
    "project_id": "项目系统编号",
    "project_name": "项目名称",
    "kind": "问题类型",
    "description": "问题描述",
    "responsible_department": "责任单位",
    "raised_on": "提出日期",
    "due_on": "办结时限",
    "resolved_on": "办结日期",
    "resolution": "解决情况",
    "id": "难点编号",
    "version": "版本",
}

MESSAGES = catalogue(
    {
        # the stage machine
        "stage.unknown": (
            "未知的建设阶段“{stage}”；可选：{allowed}",
            "unknown stage {stage!r}; use one of {allowed}",
        ),
        "stage.final": (
            "项目已{current}，这是最终阶段，不能再转为{to}",
            "the project is {current_en}, a final stage: it cannot move to {to_en}",
        ),
        "stage.same": ("项目已处于{to}阶段", "the project is already {to_en}"),
        "stage.backwards": (
            "项目只能向前推进：当前为{current}，不能退回{to}",
            "a project moves forward only: it is {current_en} and cannot go back to {to_en}",
        ),
        "stage.future": (
            "阶段变更日期 {on} 晚于今天（{today}）",
            "the transition date {on} is in the future (today is {today})",
        ),
        "stage.before_previous": (
            "阶段变更日期 {on} 早于上一次阶段变更（{last}）",
            "the transition date {on} is before the project's previous transition on {last}",
        ),
        # the national project code
        "code.shape": (
            "“{code}”不是项目代码：应为 {format}（年份-区划-部门-类型-序号，全为数字），"
            "例如 2023-370602-47-01-123456",
            "{code!r} is not a project code: expected {format} (year, region, department, "
            "type, serial; digits only), e.g. 2023-370602-47-01-123456",
        ),
        "code.year_early": (
            "项目代码中的年份 {year} 太早：此类代码自 {first} 年起赋码",
            "year {year} in the project code is too early: codes of this form are issued "
            "since {first}",
        ),
        "code.year_future": (
            "项目代码中的年份 {year} 晚于今年（{this_year}）",
            "year {year} in the project code is in the future (this year is {this_year})",
        ),
        "code.region": (
            "项目代码中的区划 {region} 不是 GB/T 2260 行政区划代码：{problem}",
            "region {region} in the project code is not a GB/T 2260 division code: {problem}",
        ),
        # project fields
        "code.region_digits": ("应为 6 位数字", "it must be 6 digits"),
        "code.region_province": (
            "“{prefix}”不是省级区划代码的前两位",
            "{prefix!r} is not a province-level prefix",
        ),
        "code.region_county": (
            "有县级部分却没有地市级部分（第 3-4 位为 00）",
            "a county part without a prefecture part (positions 3-4 are 00)",
        ),
        "code.registered": ("项目代码已登记", "the project code is already registered"),
        "code.registered_meanwhile": (
            "项目代码已被他人同时登记",
            "the project code was registered by someone else meanwhile",
        ),
        "changed_meanwhile": (
            "{what_zh} {id} 在您编辑期间已被修改，请重新读取后再修改",
            "{what} {id} changed while you were editing it; read it again and re-apply your change",
        ),
        "cannot_empty": ("{fields} 不能为空", "{fields} cannot be emptied"),
        "oc4ids.empty": (
            "没有符合条件的项目：OC4IDS 数据包至少需要一个项目",
            "no project matches: an OC4IDS package needs at least one project",
        ),
        "query_nul": ("{name} 含有 NUL 字符", "{name} contains a NUL character"),
        "milestone.not_found": (
            "项目 {project} 没有编号为 {id} 的里程碑",
            "project {project} has no milestone {id}",
        ),
        "blocker.not_found": (
            "项目 {project} 没有编号为 {id} 的难点堵点",
            "project {project} has no blocker {id}",
        ),
        "import.codes_meanwhile": (
            "文件中有项目代码在导入期间已被他人登记，未导入任何数据；请重新上传文件查看是哪些",
            "some project codes of the file were registered meanwhile; nothing was imported, "
            "upload the file again to see which",
        ),
        "one_of": (
            "未知的{what_zh}“{value}”；可选：{allowed}",
            "unknown {what} {value!r}; use one of {allowed}",
        ),
        "not_month": (
            "“{value}”不是月份：应为 YYYY-MM，例如 2024-05",
            "{value!r} is not a month: use YYYY-MM, e.g. 2024-05",
        ),
        "nul": ("含有 NUL 字符", "contains a NUL character"),
        "category.unknown": (
            "未知的项目类别“{value}”；可选：{allowed_zh}",
            "unknown project category {value!r}; allowed: {allowed}",
        ),
        "planned.order": (
            "计划竣工日期 {end} 早于计划开工日期 {start}",
            "the planned completion {end} is before the planned start {start}",
        ),
        "future": ("{value} 晚于今天（{today}）", "{value} is in the future (today is {today})"),
        "code.taken": (
            "项目代码 {code} 已登记为项目 {id}",
            "the project code {code} is already registered to project {id}",
        ),
        "not_found": ("没有编号为 {id} 的项目", "there is no project {id}"),
        "month.future": (
            "{month} 尚未开始（今天是 {today}）",
            "{month} has not begun yet (today is {today})",
        ),
        "blocker.before_raised": (
            "{value} 早于提出日期（{raised}）",
            "{value} is before the day it was raised ({raised})",
        ),
        "not_null": ("不能为空", "may not be null"),
        "blocker.resolution_date": (
            "填写解决情况时需要填写办结日期",
            "a resolution needs the date it was resolved",
        ),
        # investment
        "investment.reported": (
            "{month} 的完成投资已填报（{amount} 万元，第 {version} 版）。如要更正，请带上"
            ' If-Match: "{version}"，或在请求中写明 correction: true',
            "{month} is already reported ({amount} 万元, version {version}). To correct it, "
            'send If-Match: "{version}" or correction: true',
        ),
        "investment.stale": (
            "{month} 的完成投资已被他人更正，现为第 {version} 版（{amount} 万元）；请核对后再更正",
            "{month} was corrected meanwhile: it is now version {version} ({amount} 万元); "
            "check it and correct again",
        ),
        # the ledger import
        "import.dup_code": (
            "项目代码 {code} 已登记为项目 {id}（{name}），疑似重复登记。如是同一项目，请在导出的"
            "台账里修改该项目所在的行（保留“系统编号”）",
            "probable duplicate: the project code {code} is already project {id} ({name}). If "
            "it is the same project, edit its row of an exported ledger (keep its id)",
        ),
        "import.dup_name": (
            "与项目 {id} 的名称、所在街道和项目类别都相同，疑似重复登记。如是同一项目，请在导出的"
            "台账里修改该项目所在的行（保留“系统编号”）",
            "probable duplicate: project {id} has the same name, sub-district and category. If "
            "it is the same project, edit its row of an exported ledger (keep its id)",
        ),
        "import.code_in_file": (
            "项目代码 {code} 也在第 {row} 行",
            "the project code {code} is also on row {row}",
        ),
        "import.id_in_file": ("系统编号 {id} 也在第 {row} 行", "the id {id} is also on row {row}"),
        "import.stale": (
            "项目 {id} 在导出后已被修改（文件中为第 {given} 版，现为第 {current} 版），本行未导入；"
            "请重新导出后再修改",
            "conflict: project {id} changed after this file was exported (the file has version "
            "{given}, it is now {current}); export again and re-apply the change",
        ),
        "import.no_version": (
            "修改已有项目需要“版本”列（请使用导出的台账）",
            "changing a registered project needs the version column (use an exported ledger)",
        ),
        "import.stage_date_rewrite": (
            "已记录于 {recorded}；导入不改写阶段历史",
            "recorded as {recorded}; an import does not rewrite the stage history",
        ),
        "import.created_on_rewrite": (
            "已记录为 {recorded}；导入不能修改入库日期",
            "recorded as {recorded}; an import does not change the date it entered the ledger",
        ),
        "import.stage_mismatch": (
            "当前阶段“{stage}”与填写的“{column}”不一致",
            "the stage {stage_en} does not match the {column} given",
        ),
        "import.date_order": (
            "{later} {d2} 早于{earlier} {d1}",
            "{later} {d2} is before {earlier} {d1}",
        ),
        "import.built_cancelled": ("已建成的项目不能取消", "a built project cannot be cancelled"),
        "import.cancel_from": (
            "请同时填写取消前所处阶段的日期",
            "give the date of the stage it was cancelled from",
        ),
        "import.cancelled_needs_date": (
            "当前阶段为已取消时，需要填写取消日期",
            "the stage 已取消 needs the cancellation date",
        ),
        "import.no_rows": ("文件只有表头，没有项目", "the file has a header but no projects"),
        "import.changed_meanwhile": (
            "导入期间台账被他人修改，未导入任何数据；请重新上传",
            "the ledger changed while the file was being imported; nothing was imported, "
            "upload it again",
        ),
        "import.no_project": ("没有编号为 {id} 的项目", "there is no project {id}"),
        "import.no_child": (
            "项目 {project} 没有编号为 {id} 的{what}",
            "project {project} has no {what_en} {id}",
        ),
        "import.child_stale": (
            "{what}{id} 在导出后已被修改（文件中为第 {given} 版，现为第 {current} 版），本行未导入",
            "conflict: {what_en} {id} changed after this file was exported (the file has "
            "version {given}, it is now {current})",
        ),
        "import.project_needed": (
            "需要填写已登记项目的系统编号",
            "give the id of a registered project",
        ),
    }
)

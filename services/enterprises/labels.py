"""The enterprises service's wording, in Chinese and English (the problem messages it returns)."""

from __future__ import annotations

from collections.abc import Iterable

from services.common.contracts.designations import (
    DESIGNATION_LABELS,
    DESIGNATION_LABELS_EN,
    LEVEL_LABELS,
    LEVEL_LABELS_EN,
)
from services.common.i18n import Text, catalogue, join

ITEM_COLUMN = Text("名称", "Name")
"""A designation's item name as the forms and the ledger's column call it."""


def type_label(key: str) -> Text:
    """A designation type as a clerk reads it (高新技术企业 / High-tech enterprise); an unknown
    key as it was given."""
    return Text(DESIGNATION_LABELS.get(key, key), DESIGNATION_LABELS_EN.get(key, key))


def level_label(key: str) -> Text:
    """A level as a clerk reads it (国家级 / National); an unknown key as it was given."""
    return Text(LEVEL_LABELS.get(key, key), LEVEL_LABELS_EN.get(key, key))


def listed(labels: Iterable[Text]) -> Text:
    """Labels one after the other (国家级、省级 / National, Provincial)."""
    return join(list(labels), "、", ", ")


MESSAGES = catalogue(
    {
        "uscc.forbidden_letter": (
            "第 {position} 位的“{ch}”不会出现在统一社会信用代码中（不使用字母 I、O、S、V、Z）",
            "character {ch!r} at position {position} is never used in a Unified Social Credit "
            "Code (the letters I, O, S, V and Z are left out)",
        ),
        "uscc.character": (
            "第 {position} 位的“{ch}”不允许：统一社会信用代码只用数字 0-9 和除 I、O、S、V、Z 外的"
            "大写字母",
            "character {ch!r} at position {position} is not allowed: a Unified Social Credit "
            "Code uses only digits 0-9 and the letters A-Y except I, O, S, V and Z",
        ),
        "uscc.length": (
            "统一社会信用代码应为 {length} 位，{found_zh}",
            "a Unified Social Credit Code has {length} characters, {found}",
        ),
        "uscc.check": (
            "第 18 位校验码有误：按前 17 位应为“{expected}”，实为“{found}”；可能有字符录错",
            "wrong check character at position 18: expected {expected!r} (computed from the "
            "first 17 characters), found {found!r}; a character was probably mistyped",
        ),
        "uscc.taken": (
            "统一社会信用代码 {code} 已登记（企业编号 {id}）",
            "An enterprise with USCC {code} is already registered (id {id}).",
        ),
        "type.unknown": (
            "未知的认定类型“{value}”；可选：{known}",
            "unknown designation type {value!r}; known types: {known}",
        ),
        "level.unknown": (
            "未知的认定级别“{level}”；可选：{allowed}",
            "unknown level {level!r}; use one of {allowed}",
        ),
        "level.not_granted": (
            "{label}没有{level}认定；认定级别可选：{allowed}",
            "{label} is not granted at {level} level; it is granted at: {allowed}",
        ),
        "overlap": (
            "企业已持有{label}（{start} 认定{certificate_zh}），有效期 {start} 至 {end_zh}；"
            "同一期间同级或更低级别的第二项认定不予登记，如为该项认定的续期（复审），请以续期办理",
            "the enterprise already holds {label} (granted {start}{certificate}), valid "
            "{start} – {end}; a second one at the same or a lower level for the same period is "
            "refused: if this is that one's renewal (re-examination), record it as a renewal",
        ),
        "item.required": (
            "{label}按项计数：请填写{column}，即该认定所属的实验室、平台、产品、门店、专业或工作室",
            "{label} is counted as items: fill in {column}, the lab, platform, product, store, "
            "specialty or studio this designation is for",
        ),
        "item.refused": (
            "{label}由企业本身持有，{column}应留空",
            "{label} is held by the enterprise itself: leave {column} blank",
        ),
        "designation.not_found": (
            "企业 {enterprise} 没有编号为 {id} 的认定",
            "Enterprise {enterprise} has no designation {id}.",
        ),
        "renew.type": (
            "续期须与原认定类型一致（{old}），不能是{given}",
            "a renewal keeps the type of the designation it renews ({old}), not {given}",
        ),
        "renew.revoked": (
            "认定 {id} 已于 {on} 撤销，请重新认定",
            "Designation {id} was revoked on {on}; grant a new one instead.",
        ),
        "renew.already": (
            "认定 {id} 已由认定 {successor} 续期，请对后者续期",
            "Designation {id} is already renewed by designation {successor}; renew that one "
            "instead.",
        ),
        "renew.meanwhile": (
            "认定 {id} 已被他人同时续期，请重新读取",
            "Designation {id} was renewed meanwhile; read it again.",
        ),
        "renew.not_after": (
            "续期的认定日期须晚于原认定（原认定日期 {granted_on}）",
            "a renewal is granted after the designation it renews (granted {granted_on})",
        ),
        "revoke.already": (
            "认定 {id} 已于 {on} 撤销",
            "Designation {id} was already revoked on {on}.",
        ),
        "revoke.lapsed": (
            "认定 {id} 已于 {on} 到期，无需撤销",
            "Designation {id} had already lapsed on {on}; there is nothing to revoke.",
        ),
        "revoke.after_lapse": (
            "撤销日期 {on} 晚于认定到期日（{expires_on}）",
            "{on} is after the designation lapsed ({expires_on})",
        ),
        "designation.stale": (
            "认定 {id} 在读取后已被修改，现为第 {version} 版",
            "Designation {id} changed since you read it: it is now version {version}.",
        ),
        "stale": (
            "读取后数据已被修改，现为第 {version} 版。请重新读取后再修改。",
            "The resource changed since you read it: it is now version {version}. Read it again "
            "and re-apply your change.",
        ),
        "chain.unknown": (
            "未知的产业链“{value}”；可选：{allowed}",
            "unknown industry chain {value!r}; use one of {allowed}",
        ),
        "uscc.not_found": (
            "没有以统一社会信用代码 {code} 登记的企业",
            "No enterprise is registered under {code}.",
        ),
        "cannot_clear": ("{field} 不能清空", "{field} cannot be cleared"),
        "uscc.check_length": (
            "校验码由 17 位计算，实为 {found} 位",
            "the check character is computed from 17 characters, found {found}",
        ),
        "channel.unknown": (
            "未知的招引渠道“{value}”；可选：{options}",
            "unknown source channel {value!r}; use one of {options}",
        ),
        "section.unknown": (
            "未知的国民经济行业门类“{value}”；请填 A–T 中的一个字母（如 C {c}、I {i}）",
            "unknown GB/T 4754 section {value!r}; use one letter A–T (e.g. C {c}, I {i})",
        ),
        "size.unknown": (
            "未知的企业规模“{value}”；可选：{allowed}",
            "unknown size {value!r}; use one of {allowed}",
        ),
        "import.name_required": (
            "新企业须填写{column}",
            "{column} is required for a new enterprise",
        ),
        "import.type_required": (
            "填写了{given}，须填写{column}",
            "{column} is required when {given} is given",
        ),
        "import.granted_required": ("认定须填写{column}", "{column} is required for a designation"),
        "import.differs_in_file": (
            "“{value}”与第 {row} 行为同一{column}填写的“{first}”不同",
            "'{value}' differs from '{first}' given for the same {column} in row {row}",
        ),
        "import.overlap": ("{where_zh}：{msg}", "{where}: {msg}"),
        "import.repeats": ("与第 {row} 行重复", "repeats row {row}"),
        "import.differs": (
            "“{given}”与已登记的认定 {id}（“{recorded}”）不同；导入不修改已登记的认定",
            "'{given}' differs from designation {id} as registered ('{recorded}'); an import "
            "does not alter a recorded designation",
        ),
        "import.revoked": (
            "认定 {id} 已于 {on} 撤销",
            "designation {id} was revoked on {on}",
        ),
        "import.after_lapse": (
            "{on} 晚于其到期日（{expires_on}）",
            "{on} is after it lapsed ({expires_on})",
        ),
        "import.changed_meanwhile": (
            "导入期间名录已被修改（文件中的企业或认定被他人修改），未导入任何数据。请重新上传。",
            "The registry changed while the file was being imported (an enterprise or a "
            "designation in it was changed meanwhile); nothing was imported. Upload it again.",
        ),
        "not_found": ("没有编号为 {id} 的企业", "There is no enterprise {id}."),
        "granted.future": (
            "认定日期 {granted_on} 晚于今天（{today}）",
            "granted_on {granted_on} is in the future (today is {today})",
        ),
        "expires.before": (
            "有效期至 {expires_on} 早于认定日期 {granted_on}",
            "expires_on {expires_on} is before granted_on {granted_on}",
        ),
        "revoke.before": (
            "撤销日期 {on} 早于认定日期（{granted_on}）",
            "on {on} is before the designation was granted ({granted_on})",
        ),
        "revoke.future": (
            "撤销日期 {on} 晚于今天（{today}）",
            "on {on} is in the future (today is {today})",
        ),
    }
)

"""The enterprises service's wording, in Chinese and English (the problem messages it returns)."""

from __future__ import annotations

from services.common.i18n import catalogue

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

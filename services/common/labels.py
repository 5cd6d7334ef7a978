"""Chinese and English wording shared by every service: problem titles, validation messages,
and what the spreadsheet reader says about a clerk's file."""

from __future__ import annotations

from services.common.i18n import Text, catalogue

TITLES: dict[int, Text] = {
    400: Text("请求有误", "Bad request"),
    401: Text("未登录或令牌无效", "Unauthorized"),
    403: Text("无权进行此操作", "Forbidden"),
    404: Text("未找到", "Not found"),
    405: Text("不支持该请求方法", "Method not allowed"),
    409: Text("冲突", "Conflict"),
    412: Text("数据已被他人修改", "Precondition failed"),
    413: Text("内容过大", "Content too large"),
    415: Text("不支持的内容类型", "Unsupported media type"),
    422: Text("输入有误", "Invalid input"),
    428: Text("缺少 If-Match", "Precondition required"),
    423: Text("已锁定", "Locked"),
    429: Text("请求过于频繁", "Too many requests"),
    500: Text("内部错误", "Internal error"),
    502: Text("上游服务出错", "Bad gateway"),
    503: Text("服务暂不可用", "Service unavailable"),
    504: Text("上游服务未及时应答", "Gateway timeout"),
}

MESSAGES = catalogue(
    {
        # problem bodies made at the edge
        "invalid_fields": ("以下字段有误：{fields}", "Invalid fields: {fields}"),
        "internal": (
            "发生意外错误，已记录日志。",
            "An unexpected error occurred; it has been logged.",
        ),
        "db_away": (
            "数据库连接中断；除非稍后查询显示已保存，否则未做任何修改。请稍后重试。",
            "The database connection was lost; nothing was changed unless a later read shows "
            "it. Retry shortly.",
        ),
        "db_value": (
            "有值无法保存：{reason}。请检查数字是否超出范围、文本是否含控制字符。",
            "A value cannot be stored: {reason}. Check numbers are in range and text has no "
            "control characters.",
        ),
        "if_match_required": (
            "需要 If-Match：请带上读取时的 ETag，以免覆盖他人的修改。",
            "If-Match is required: send the ETag you read, so no change is silently overwritten.",
        ),
        "if_match_stale": (
            "读取后数据已被修改，当前为第 {version} 版。请重新读取后再修改。",
            "The resource changed since you read it: it is now version {version}. Read it again "
            "and re-apply your change.",
        ),
        "token_expired": (
            "令牌已过期，请重新获取（plantrack token）或重新登录。",
            "The token has expired; ask for a new one (plantrack token).",
        ),
        "token_invalid": (
            "令牌对本系统无效。",
            "The bearer token is not valid for this deployment.",
        ),
        "token_no_role": ("令牌未指明已知的角色。", "The token names no known role."),
        "token_missing": (
            "需要登录，或在请求头中提供 Authorization: Bearer <令牌>。",
            "Authorization: Bearer <token> is required.",
        ),
        "forbidden": (
            "角色“{roles}”无权进行此操作（需要 {permission} 权限）。",
            "The role '{roles}' may not do this (needs {permission}).",
        ),
        "nul": ("含有 NUL 字符", "contains a NUL character"),
        # Idempotency-Key (answered before the app sees the request)
        "idem.key_shape": (
            "Idempotency-Key 应为 1 至 255 个可见 ASCII 字符。",
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
        ),
        "idem.reused_title": ("Idempotency-Key 已被使用", "Idempotency-Key reused"),
        "idem.reused": (
            "此 Idempotency-Key 已用于另一个不同的请求，本次未做任何修改。新的请求请使用新的键。",
            "This Idempotency-Key was already used for a different request; nothing was "
            "changed. Use a new key for a new request.",
        ),
        "idem.running_title": ("请求处理中", "Request in progress"),
        "idem.running": (
            "使用此 Idempotency-Key 的请求仍在处理（或其应答已丢失），本次未做任何修改。"
            "请稍后用同一个键重试。",
            "A request with this Idempotency-Key is still running (or its answer was lost); "
            "nothing was changed by this one. Retry shortly with the same key.",
        ),
        # the spreadsheet reader
        "file_empty": ("文件是空的", "the file is empty"),
        "file_no_rows": ("文件只有表头，没有数据行", "the file has a header but no rows"),
        "old_xls": (
            "不能读取旧版 .xls 工作簿：请另存为 .xlsx 或 .csv",
            "old .xls workbooks are not read: save the file as .xlsx or .csv",
        ),
        "not_xlsx": (
            "不是可读取的 .xlsx 工作簿（{kind}）",
            "not a readable .xlsx workbook ({kind})",
        ),
        "not_utf8": (
            "CSV 不是 UTF-8 编码：请另存为“CSV UTF-8”",
            "the CSV is not UTF-8: save it as 'CSV UTF-8'",
        ),
        "csv_broken": ("CSV 无法解析（{reason}）", "the CSV cannot be parsed ({reason})"),
        "unreadable": ("文件无法读取：{msg}。", "The file cannot be read: {msg}."),
        "no_header": (
            "工作表「{sheet}」中找不到表头行：前 {rows} 行中没有一行包含“{need}”等列名",
            "no header row in sheet '{sheet}': none of the first {rows} rows holds the "
            "columns {need}",
        ),
        "header_wrong": (
            "未导入任何数据：工作表「{sheet}」第 {row} 行的表头有误。",
            "Nothing was imported: the header row (row {row}) of sheet '{sheet}' is wrong.",
        ),
        "column_missing": ("缺少“{column}”列", "the column '{column}' is missing"),
        "column_twice": ("“{column}”列出现了两次", "the column '{column}' appears twice"),
        "cell": (
            "工作表「{sheet}」第 {row} 行“{column}”列（{value}）：{reason}",
            "sheet '{sheet}' row {row} column '{column}' ({value}): {reason}",
        ),
        "cell_blank": (
            "工作表「{sheet}」第 {row} 行“{column}”列：{reason}",
            "sheet '{sheet}' row {row} column '{column}': {reason}",
        ),
        "cell_required": (
            "工作表「{sheet}」第 {row} 行：“{column}”不能为空",
            "sheet '{sheet}' row {row}: {column} is required",
        ),
        "row_skipped": (
            "工作表「{sheet}」第 {row} 行是{kind}行（{value}），已跳过",
            "sheet '{sheet}' row {row} is a {kind_en} row ({value}); skipped",
        ),
        "rejected": (
            "未导入任何数据：{rows} 行共有 {count} 处问题{where}。请改正后重新上传整个文件。",
            "Nothing was imported: {count} problem(s) in {rows} row(s){where_en}. Correct them "
            "and upload the whole file again.",
        ),
        # an upload over a sheet limit (413)
        "sheet_too_large": (
            "未导入任何数据：文件{what}（{value}），上限为 {allowed}（{setting}）。"
            "请拆分文件后分别上传。",
            "Nothing was imported: the file {what} ({value}); the limit is {allowed} ({setting}). "
            "Split the file and upload the parts.",
        ),
        "sheet_over_limit": (
            "文件{what}（{value}），超过 {limit} = {allowed}",
            "{what} ({value}), over {limit} = {allowed}",
        ),
        "file_over_mb": (
            "文件超过 {mb} MB，请拆分后上传",
            "the file is larger than {mb} MB; split it",
        ),
        # request values
        "not_iso_date": (
            "“{value}”不是日期：应为 YYYY-MM-DD",
            "{value!r} is not a date: use YYYY-MM-DD",
        ),
        "date_range": (
            "{value} 超出范围（{earliest} 至 {latest}）",
            "{value} is out of range ({earliest} to {latest})",
        ),
        "control_at": (
            "含有控制字符 U+{code}（第 {position} 个字符）；{allowed_zh}",
            "contains the control character U+{code} at position {position}; {allowed}",
        ),
        "control": ("含有控制字符 U+{code}", "contains the control character U+{code}"),
        # cell parsers
        "not_whole": ("“{value}”不是整数", "'{value}' is not a whole number"),
        "not_number": ("“{value}”不是数字", "'{value}' is not a number"),
        "negative": ("{value} 是负数，应为 0 或以上", "{value} is negative; it must be 0 or more"),
        "not_date": (
            "“{value}”不是日期（可写作 2024-03-05、2024/3/5、2024.3.5 或 2024年3月5日）",
            "'{value}' is not a date (write 2024-03-05, 2024/3/5, 2024.3.5 or 2024年3月5日)",
        ),
        "not_one_of": ("“{value}”不是可选值之一：{options}", "'{value}' is not one of: {options}"),
    }
)

# What is over a sheet limit (`SheetTooLarge`): key → (中文, English); `{entry}` names a part.
SHEET_LIMITS: dict[str, tuple[str, str]] = {
    "rows": ("行数超过上限", "has more rows than allowed"),
    "columns": ("列数超过上限", "has more columns than allowed"),
    "cells": ("单元格数超过上限", "has more cells than allowed"),
    "size": ("解压后的大小（MB）超过上限", "expands to more MB than allowed"),
    "ratio": ("中的“{entry}”压缩比超过上限", "holds '{entry}' compressed more than allowed"),
    "time": ("读取用时（秒）超过上限", "takes longer to read than allowed (seconds)"),
    "memory": ("读取所需内存（MB）超过上限", "needs more memory to read than allowed (MB)"),
}

SKIPPED_ROWS: dict[str, tuple[str, str]] = {
    # first-cell text of a row that is not data → (中文类别, English kind)
    "合计": ("合计", "total"),
    "总计": ("合计", "total"),
    "小计": ("小计", "subtotal"),
    "备注": ("备注", "notes"),
    "说明": ("说明", "notes"),
    "注": ("备注", "notes"),
    "填表说明": ("填表说明", "instructions"),
    "填报说明": ("填表说明", "instructions"),
}

# Pydantic's error types in Chinese; `{…}` are the error's context values.
VALIDATION: dict[str, str] = {
    "missing": "必填",
    "extra_forbidden": "不允许的字段",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_type": "应为文本",
    "string_pattern_mismatch": "格式不符（{pattern}）",
    "greater_than_equal": "应大于或等于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "应小于或等于 {le}",
    "less_than": "应小于 {lt}",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_inexact": "应为日期（YYYY-MM-DD），不带时间",
    "date_type": "应为日期（YYYY-MM-DD）",
    "datetime_parsing": "应为带时区的时间（ISO 8601）",
    "datetime_from_date_parsing": "应为带时区的时间（ISO 8601）",
    "datetime_type": "应为带时区的时间（ISO 8601）",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "json_invalid": "JSON 格式有误",
    "json_type": "JSON 格式有误",
    "dict_type": "应为对象",
    "model_attributes_type": "应为对象",
    "model_type": "应为对象",
    "list_type": "应为列表",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "uuid_parsing": "应为 UUID",
    "int_too_big": "数字过大",
    "value_error": "值无效：{error}",
    "assertion_error": "值无效：{error}",
}

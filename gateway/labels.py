"""The gateway's own wording, in Chinese and English (the problems it answers before or instead
of a service: routes, roles, limits, services away)."""

from __future__ import annotations

from services.common.i18n import catalogue

MESSAGES = catalogue(
    {
        "no_route": ("没有此 API 路径：{path}", "No API route at {path}."),
        "no_metrics": ("没有此路径：/metrics", "No route at /metrics."),
        "role_may_not": (
            "角色“{roles}”无权 {method} {path}（需要 {permission} 权限）",
            "The role '{roles}' may not {method} {path} (needs {permission}).",
        ),
        "role_may_not_read": ("角色“{roles}”无权查看", "The role '{roles}' may not read."),
        "role_may_not_admin": (
            "角色“{roles}”无权管理账号",
            "The role '{roles}' may not manage accounts.",
        ),
        "upstream_timeout": (
            "{service} 服务未在 {waited} 秒内应答",
            "The {service} service did not answer within {waited} s.",
        ),
        "upstream_away": (
            "{service} 服务无法连接，请稍后重试",
            "The {service} service is not reachable; try again shortly.",
        ),
        "rate_limited": (
            "此调用方每分钟调用超过 {capacity} 次，请 {wait} 秒后重试",
            "More than {capacity} calls a minute from this caller; retry in {wait} s.",
        ),
        "stream_away": (
            "实时数据流尚未连接，请稍后重试",
            "The live stream is not connected yet; retry in a moment.",
        ),
        "path_refused": ("请求路径被拒绝：{reason}", "Refused: {reason}."),
        "path.separator": (
            "路径中含有编码的斜杠或反斜杠",
            "the path holds an encoded slash or a backslash",
        ),
        "path.control": ("路径中含有控制字符", "the path holds a control character"),
        "path.dots": ("路径中含有“.”或“..”段", "the path holds a '.' or '..' segment"),
        "body_too_large": (
            "网关接受的{what_zh}最大为 {limit} 字节",
            "The gateway accepts {what} of at most {limit} bytes.",
        ),
    }
)

"""Every message of sign-in and account management, in Chinese and English (one place)."""

from __future__ import annotations

from services.common.i18n import catalogue

MESSAGES = catalogue(
    {
        # sign-in
        "bad_credentials": ("用户名或密码错误", "Wrong username or password."),
        "disabled": ("账号已停用，请联系管理员", "This account is disabled; ask an administrator."),
        "locked": (
            "登录失败次数过多，请 {minutes} 分钟后再试",
            "Too many failed sign-ins; retry in {minutes} min.",
        ),
        "address_throttled": (
            "此地址登录失败次数过多，请 {minutes} 分钟后再试",
            "Too many failed sign-ins from this address; retry in {minutes} min.",
        ),
        "sign_in_first": (
            "请先登录，或提供 Authorization: Bearer <token>",
            "Sign in, or send Authorization: Bearer <token>.",
        ),
        "session_ended": ("登录已过期，请重新登录", "The session has ended; sign in again."),
        "api_key_invalid": (
            "API 密钥无效、已撤销或已过期",
            "The API key is unknown, revoked or expired.",
        ),
        "other_site": ("拒绝来自其他站点的请求", "A request from another site was refused."),
        "csrf": (
            "缺少或错误的 CSRF 令牌，请刷新页面后重试",
            "X-CSRF-Token is missing or wrong; reload the page and retry.",
        ),
        "body_form": ("请求体须为 JSON 或表单", "JSON or a form is expected."),
        "body_object": ("请求体须为 JSON 对象", "A JSON object is expected."),
        # accounts
        "username": (
            "用户名须为 2–64 个小写字母、数字或 . _ - @",
            "2–64 lower-case letters, digits, '.', '_', '-' or '@'.",
        ),
        "unknown_role": (
            "未知角色 {role}（可选：{known}）",
            "Unknown role {role}; one of {known}.",
        ),
        "no_role": ("至少需要一个角色", "At least one role is needed."),
        "no_user": ("没有用户 {username}", "No user {username}."),
        "user_exists": ("用户 {username} 已存在", "The user {username} exists."),
        "user_stale": (
            "用户已被他人修改（当前版本 {version}），请刷新后重试",
            "The user was changed meanwhile (now version {version}); reload and retry.",
        ),
        "if_match_required": (
            "需要 If-Match 头（用户的 ETag）",
            "If-Match (the user's ETag) is required.",
        ),
        "if_match_invalid": ("If-Match 须为用户的 ETag", "If-Match must be the user's ETag."),
        "last_admin": (
            "至少需要保留一个启用的管理员账号",
            "At least one enabled administrator must remain.",
        ),
        "password_short": (
            "密码至少需要 {length} 个字符",
            "The password needs at least {length} characters.",
        ),
        "password_long": (
            "密码不能超过 {length} 个字符",
            "The password may have at most {length} characters.",
        ),
        "password_common": (
            "密码过于常见，请换一个",
            "This is one of the commonest passwords; choose another.",
        ),
        "password_username": ("密码不能包含用户名", "The password must not contain the username."),
        # API keys
        "key_expiry_past": ("有效期须在将来", "expires_at must be in the future."),
        "key_expiry_zone": ("有效期须带时区", "expires_at needs an offset (e.g. +08:00)."),
        "no_key": ("没有编号为 {id} 的 API 密钥", "No API key {id}."),
        # single sign-on
        "sso_off": ("本系统未配置统一身份认证", "Single sign-on is not configured."),
        "sso_unreachable": (
            "统一身份认证服务暂不可用，请稍后再试或使用账号密码登录",
            "The single sign-on provider is not reachable; retry, or sign in with a password.",
        ),
        "sso_incomplete": (
            "统一身份认证未完成（{error}）",
            "Single sign-on not completed ({error}).",
        ),
        "sso_other_browser": (
            "登录请求不是从本浏览器发起的，请重新登录",
            "The sign-on began in another browser; sign in again.",
        ),
        "sso_stale": (
            "登录请求已失效，请重新登录",
            "The sign-in request is unknown or too old; sign in again.",
        ),
        "sso_refused": (
            "统一身份认证未通过，请重新登录",
            "The provider refused the sign-in; sign in again.",
        ),
        "sso_token": ("统一身份认证凭据无效", "The ID token is not valid."),
        "sso_no_role": (
            "您的统一身份账号没有本系统的角色（{claim}）",
            "Your single sign-on account holds no plantrack role in the '{claim}' claim.",
        ),
        "sso_local_name": (
            "用户名 {username} 已被本地账号使用，请联系管理员",
            "The username {username} belongs to a local account; ask an administrator.",
        ),
    }
)

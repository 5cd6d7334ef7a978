// Every label of the dashboard page, in Chinese (default) and English.
//
// Keep one entry per line as `key: "text",` in both blocks: the unit tests read
// this file as text to check that the two languages carry the same keys and
// the same {placeholders}.

export const MESSAGES = {
  zh: {
    page_title: "芝罘区三年行动计划推进看板",
    skip_link: "跳到目标进度",
    plan_title: "芝罘区深化新旧动能转换推动绿色低碳高质量发展三年行动计划（2023—2025年）",
    plan_subtitle: "目标进度与项目调度看板",
    plan_title_original: "",
    generated_at: "数据生成于 {time}",
    generated_never: "尚未获取数据",
    live_aria: "实时连接状态",
    live_live: "实时",
    live_connecting: "连接中…",
    live_offline: "离线",
    lang_switch: "English",
    lang_switch_aria: "Switch the page to English",
    change_token: "更换令牌",
    noscript: "此看板需要启用 JavaScript 才能显示。",
    auth_title: "需要访问令牌",
    auth_explain: "看板数据需要授权访问。请在服务器上运行以下命令生成只读令牌，然后粘贴到下方：",
    auth_signin: "或登录工作台后再打开看板",
    auth_command: "plantrack token viewer",
    auth_invalid: "令牌无效或已过期，请重新输入。",
    auth_label: "访问令牌",
    auth_placeholder: "粘贴令牌",
    auth_submit: "打开看板",
    auth_cancel: "取消",
    loading: "正在加载数据…",
    load_error: "暂时无法获取数据（{detail}），{seconds} 秒后自动重试。",
    load_error_network: "网络连接失败",
    load_error_status: "服务器返回 {status}",
    load_error_forbidden: "当前令牌无权查看看板",
    retry_now: "立即重试",
    degraded_notice: "部分数据暂不可用（{services}），显示的是 {age}前的数据",
    degraded_notice_noage: "部分数据暂不可用（{services}），相关板块暂无数据",
    age_seconds: "{n} 秒",
    age_minutes: "{n} 分钟",
    age_hours: "{n} 小时",
    list_separator: "、",
    service_projects: "项目服务",
    service_enterprises: "企业服务",
    service_events: "目标统计服务",
    section_unavailable: "该板块暂不可用",
    section_stale: "服务暂不可用，显示的是上次获取的数据",
    empty: "暂无数据",
    summary_title: "目标总体情况",
    summary_total: "目标总数",
    summary_filter_hint: "点击状态可筛选目标",
    status_achieved: "达成",
    status_on_track: "正常推进",
    status_at_risk: "存在风险",
    status_behind: "滞后",
    status_no_data: "暂无数据",
    status_met: "到期达成",
    status_missed: "到期未达成",
    after_plan: "计划期后",
    after_plan_value: "计划期后 {value}（不计入）",
    targets_title: "目标进度（按章节）",
    filter_status: "状态",
    filter_source: "来源",
    filter_all: "全部",
    filter_search: "搜索",
    filter_search_placeholder: "目标名称、条款号…",
    source_projects: "项目",
    source_enterprises: "企业",
    source_reported: "部门填报",
    targets_shown: "显示 {shown} / {total} 项",
    targets_empty: "没有符合条件的目标",
    chapter_other: "其他",
    chapter_count: "{n} 项",
    clause: "第{n}条",
    chapter_goal: "本章目标",
    progress_valuetext: "{current} / {target} {unit}，{status}",
    expected_pace: "按进度应达 {value}",
    forecast: "预计到期可达 {value}",
    forecast_reserve: "另有储备 {value}",
    deadline: "截止 {date}",
    legend_current: "当前完成",
    legend_forecast: "在建/开工预计",
    legend_reserve: "储备项目",
    legend_expected: "按进度应达",
    batches_title: "{year} 年度“四个一批”",
    batches_title_noyear: "年度“四个一批”",
    batch_col_batch: "批次",
    batch_col_planned: "计划",
    batch_col_actual: "实际",
    batch_col_rate: "完成率",
    pipeline_title: "项目库（阶段 × 类别）",
    pipeline_col_category: "类别",
    pipeline_col_total: "合计",
    stage_reserve: "储备",
    stage_starting: "开工",
    stage_building: "在建",
    stage_built: "建成",
    stage_cancelled: "已取消",
    designations_title: "培育企业（按认定类型）",
    alerts_title: "预警提醒",
    alerts_overdue_title: "逾期节点",
    alerts_expiring_title: "90 天内到期的资质",
    alerts_none: "暂无",
    overdue_days: "逾期 {n} 天",
    due_on: "计划 {date}",
    expires_on: "{date} 到期",
    expires_in_days: "{n} 天后到期",
    expires_today: "今天到期",
    expired_days: "已过期 {n} 天",
    milestone_approval: "审批",
    milestone_land: "用地",
    milestone_start: "开工",
    milestone_topping_out: "主体封顶",
    milestone_completion: "竣工",
    milestone_acceptance: "验收",
    milestone_other: "其他",
    toast_stage: "项目「{name}」进入 {stage} 阶段",
    toast_cancelled: "项目「{name}」已取消",
    toasts_label: "项目动态",
  },
  en: {
    page_title: "Zhifu three-year action plan dashboard",
    skip_link: "Skip to target progress",
    plan_title: "Zhifu District Three-Year Action Plan for Deepening the Conversion of Old and New Growth Drivers and Promoting Green, Low-Carbon, High-Quality Development (2023–2025)",
    plan_subtitle: "Target progress and project pipeline",
    plan_title_original: "芝罘区深化新旧动能转换推动绿色低碳高质量发展三年行动计划（2023—2025年）",
    generated_at: "Data generated {time}",
    generated_never: "No data yet",
    live_aria: "Live connection status",
    live_live: "Live",
    live_connecting: "Connecting…",
    live_offline: "Offline",
    lang_switch: "中文",
    lang_switch_aria: "切换为中文",
    change_token: "Change token",
    noscript: "This dashboard needs JavaScript to display.",
    auth_title: "Access token required",
    auth_explain: "The dashboard's data needs authorisation. Create a read-only token on the server with the command below, then paste it here:",
    auth_signin: "or sign in to the workbench, then open the dashboard",
    auth_command: "plantrack token viewer",
    auth_invalid: "The token is invalid or has expired; please enter a new one.",
    auth_label: "Access token",
    auth_placeholder: "Paste the token",
    auth_submit: "Open dashboard",
    auth_cancel: "Cancel",
    loading: "Loading data…",
    load_error: "Data is temporarily unavailable ({detail}); retrying in {seconds} s.",
    load_error_network: "network error",
    load_error_status: "server answered {status}",
    load_error_forbidden: "this token may not view the dashboard",
    retry_now: "Retry now",
    degraded_notice: "Some data is temporarily unavailable ({services}); showing data from {age} ago",
    degraded_notice_noage: "Some data is temporarily unavailable ({services}); those sections have no data",
    age_seconds: "{n} seconds",
    age_minutes: "{n} minutes",
    age_hours: "{n} hours",
    list_separator: ", ",
    service_projects: "projects service",
    service_enterprises: "enterprises service",
    service_events: "targets service",
    section_unavailable: "This section is unavailable",
    section_stale: "Service unavailable; showing the last data received",
    empty: "No data",
    summary_title: "Targets at a glance",
    summary_total: "Targets",
    summary_filter_hint: "Click a status to filter the targets",
    status_achieved: "Achieved",
    status_on_track: "On track",
    status_at_risk: "At risk",
    status_behind: "Behind",
    status_no_data: "No data",
    status_met: "Met by the deadline",
    status_missed: "Missed at the deadline",
    after_plan: "After the plan",
    after_plan_value: "After the plan {value} (not counted)",
    targets_title: "Target progress by chapter",
    filter_status: "Status",
    filter_source: "Source",
    filter_all: "All",
    filter_search: "Search",
    filter_search_placeholder: "Title, clause, id…",
    source_projects: "Projects",
    source_enterprises: "Enterprises",
    source_reported: "Reported",
    targets_shown: "Showing {shown} of {total}",
    targets_empty: "No target matches the filter",
    chapter_other: "Other",
    chapter_count: "{n} targets",
    clause: "Art. {n}",
    chapter_goal: "Chapter goal",
    progress_valuetext: "{current} of {target} {unit}, {status}",
    expected_pace: "Expected by now {value}",
    forecast: "Forecast by deadline {value}",
    forecast_reserve: "plus {value} in reserve",
    deadline: "Due {date}",
    legend_current: "Done",
    legend_forecast: "Building/starting forecast",
    legend_reserve: "Reserve",
    legend_expected: "Expected pace",
    batches_title: "{year}: the four batches",
    batches_title_noyear: "The year's four batches",
    batch_col_batch: "Batch",
    batch_col_planned: "Planned",
    batch_col_actual: "Actual",
    batch_col_rate: "Rate",
    pipeline_title: "Project pipeline (stage × category)",
    pipeline_col_category: "Category",
    pipeline_col_total: "Total",
    stage_reserve: "reserve",
    stage_starting: "starting",
    stage_building: "building",
    stage_built: "built",
    stage_cancelled: "cancelled",
    designations_title: "Cultivated enterprises by designation",
    alerts_title: "Alerts",
    alerts_overdue_title: "Overdue milestones",
    alerts_expiring_title: "Certificates expiring within 90 days",
    alerts_none: "None",
    overdue_days: "{n} days overdue",
    due_on: "due {date}",
    expires_on: "expires {date}",
    expires_in_days: "in {n} days",
    expires_today: "expires today",
    expired_days: "expired {n} days ago",
    milestone_approval: "approval",
    milestone_land: "land",
    milestone_start: "start",
    milestone_topping_out: "topping out",
    milestone_completion: "completion",
    milestone_acceptance: "acceptance",
    milestone_other: "other",
    toast_stage: "Project 「{name}」 moved to the {stage} stage",
    toast_cancelled: "Project 「{name}」 was cancelled",
    toasts_label: "Project updates",
  },
};

export const LANGUAGES = ["zh", "en"];
const STORAGE_KEY = "plantrack.lang";
const HTML_LANG = { zh: "zh-CN", en: "en" };

let current = readStoredLanguage();

function readStoredLanguage() {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(stored) ? stored : "zh";
  } catch {
    // Storage can be disabled by policy; the page still works in Chinese.
    return "zh";
  }
}

export function getLang() {
  return current;
}

export function setLang(lang) {
  current = LANGUAGES.includes(lang) ? lang : "zh";
  try {
    window.localStorage.setItem(STORAGE_KEY, current);
  } catch {
    // Not remembered across visits, nothing else is lost.
  }
  document.documentElement.lang = HTML_LANG[current];
}

/** The BCP 47 locale for number and date formatting. */
export function locale() {
  return HTML_LANG[current];
}

/** Whether a label key exists (for labels built from enum values). */
export function has(key) {
  return Object.hasOwn(MESSAGES[current], key);
}

/** The label for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const table = MESSAGES[current];
  const text = Object.hasOwn(table, key) ? table[key] : MESSAGES.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}

/**
 * Fill the static page from the dictionary: `data-i18n` sets the text,
 * `data-i18n-<attribute>` (e.g. `data-i18n-aria-label`) sets that attribute.
 */
export function applyStaticLabels(root = document) {
  document.documentElement.lang = HTML_LANG[current];
  document.title = t("page_title");
  for (const el of root.querySelectorAll("*")) {
    for (const { name, value } of Array.from(el.attributes)) {
      if (name === "data-i18n") el.textContent = t(value);
      else if (name.startsWith("data-i18n-")) el.setAttribute(name.slice(10), t(value));
    }
  }
}

"""Chinese labels of the projects service that the catalogue does not hold: ledger, blockers."""

from __future__ import annotations

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

"""The shared words of plantrack: what every service, the gateway and the roll-up agree on.

- `stages`: the project stage order (储备 → 开工 → 在建 → 建成, or 已取消), its final stages and
  the yearly batches keyed by stage.
- `categories`: the project categories, their labels and OC4IDS mapping.
- `designations`: designation types and levels and the rule for when a designation is in force.
- `calendar`: THE business date (the district's calendar day, Asia/Shanghai by default) and
  the plan's years.

Nothing here imports a service; the services import from here.
"""

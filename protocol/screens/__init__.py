"""The household screens (openHASP, spec interfaces.md §3), pure: no I/O, time is a parameter.

- `state`: what a screen shows of one equipment (`ScreenEquipment`), read from the database.
- `localtime`: wall-clock arithmetic in the household's time zone (zoneinfo, DST-correct).
- `render`: household state + layout -> openHASP `jsonl` publishes (full or one page).
- `touch`: screen topics and payloads -> typed events, then -> typed database updates.
"""

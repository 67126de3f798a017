-- The iterations a run was asked to reach (`--iterations N`, else lion.toml's loop.iterations), so
-- `lion status`, the dashboard and a later `lion resume` plan what the last run planned
-- (core/run_state.py). NULL: a run recorded before this column.
ALTER TABLE runs ADD COLUMN iterations INTEGER;

"""Autogenerate a service's next Alembic migration: python scripts/make_migration.py SERVICE "message" REV."""

import sys, tempfile
from pathlib import Path
from alembic import command
from services.common.db import alembic_config, make_engine, migrate
svc, msg, rev_id = sys.argv[1], sys.argv[2], sys.argv[3]
mig = Path(f"services/{svc}/migrations")
tmp = tempfile.mkdtemp()
url = f"sqlite:///{tmp}/x.db"
eng = make_engine(url)
migrate(eng, mig)  # bring an empty db to head first
cfg = alembic_config(mig, url)
cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
with eng.begin() as conn:
    cfg.attributes["connection"] = conn
    command.revision(cfg, message=msg, autogenerate=True, rev_id=rev_id)

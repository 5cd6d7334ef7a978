"""Autogenerate a service's next Alembic migration.

Usage: python scripts/make_migration.py SERVICE "message" REV
"""

import sys
import tempfile
from pathlib import Path

from alembic import command

from services.common.db import alembic_config, make_engine, migrate


def main(service: str, message: str, rev_id: str) -> None:
    migrations = Path(f"services/{service}/migrations")
    url = f"sqlite:///{tempfile.mkdtemp()}/x.db"
    engine = make_engine(url)
    migrate(engine, migrations)  # an empty database brought to head first
    cfg = alembic_config(migrations, url)
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    main(*sys.argv[1:4])

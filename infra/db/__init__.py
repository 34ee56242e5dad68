"""PostgreSQL storage: tables, repositories, the unit of work, migrations."""

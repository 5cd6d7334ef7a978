-- The three service databases and the gateway's accounts database, created once when
-- the PostgreSQL data directory is new
-- (the image runs /docker-entrypoint-initdb.d/*.sql only into an empty volume).
-- Each service owns its database and migrates it itself on start; no service reads
-- another's tables. The role is POSTGRES_USER (plantrack), which owns all four.
CREATE DATABASE projects WITH ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE enterprises WITH ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE events WITH ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE gateway WITH ENCODING 'UTF8' TEMPLATE template0;

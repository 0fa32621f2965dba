-- appdb: 1000 users, 2500 audit events in a second schema, a partitioned table (3 x 100 rows).
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());
INSERT INTO users (name) SELECT 'user' || g FROM generate_series(1, 1000) g;
CREATE SCHEMA audit;
CREATE TABLE audit.events (id bigserial PRIMARY KEY, user_id int REFERENCES users (id), payload jsonb);
INSERT INTO audit.events (user_id, payload) SELECT 1 + g % 1000, jsonb_build_object('n', g) FROM generate_series(1, 2500) g;
CREATE TABLE measurements (id int, bucket int NOT NULL, value float8) PARTITION BY RANGE (bucket);
CREATE TABLE measurements_0 PARTITION OF measurements FOR VALUES FROM (0) TO (1);
CREATE TABLE measurements_1 PARTITION OF measurements FOR VALUES FROM (1) TO (2);
CREATE TABLE measurements_2 PARTITION OF measurements FOR VALUES FROM (2) TO (3);
INSERT INTO measurements SELECT g, g % 3, g * 0.5 FROM generate_series(1, 300) g;

-- bigdb: ~80 MB of table data, so that a dump runs long enough to be interrupted mid-way.
CREATE TABLE blob (id int PRIMARY KEY, payload text NOT NULL);
INSERT INTO blob SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 300000) g;

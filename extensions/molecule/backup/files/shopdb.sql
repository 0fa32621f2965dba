-- shopdb: 300 orders, an empty table, a view.
CREATE TABLE orders (id serial PRIMARY KEY, total numeric(10, 2) NOT NULL);
INSERT INTO orders (total) SELECT g * 1.5 FROM generate_series(1, 300) g;
CREATE TABLE empty_table (id int);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;

-- A practical sheet can be a document uploaded to relais (kept under <data.dir>/resources/<id>) instead of a
-- link elsewhere: its original file name and type. Same change in migrations/sqlite and migrations/postgres.
ALTER TABLE resources ADD COLUMN file_name TEXT NOT NULL DEFAULT '';
ALTER TABLE resources ADD COLUMN content_type TEXT NOT NULL DEFAULT '';

-- The political nuance of a target as staff wrote it ("Divers gauche", "LDVG"), from the Ministry of the
-- Interior's grid; political_colour keeps the colour it counts as in the diversity matrix. NULL when only a
-- colour was given. Kept verbatim so an export gives it back unchanged.
ALTER TABLE targets ADD COLUMN political_nuance TEXT;

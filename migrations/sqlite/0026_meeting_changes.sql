-- Meetings as staff change them: a series may end on a date; an occurrence keeps what its last invitation
-- or update said (so the next update says what changed); an attendee remembers the SEQUENCE of the
-- invitation they received (so one added after the agenda went out gets the invitation, not an update).

-- Paris date (YYYY-MM-DD) of the last possible occurrence; '' when the series goes on.
ALTER TABLE meeting_series ADD COLUMN ends_on TEXT NOT NULL DEFAULT '';
-- JSON of what the last agenda or update sent: times, theme, video link, agenda items.
ALTER TABLE meetings ADD COLUMN sent_snapshot TEXT NOT NULL DEFAULT '';
-- The SEQUENCE of the invitation or update this attendee last received; NULL before any.
ALTER TABLE meeting_attendees ADD COLUMN invited_sequence INTEGER;
-- Attendees invited before this column existed had received whatever their meeting last sent.
UPDATE meeting_attendees SET invited_sequence = (SELECT sent_sequence FROM meetings WHERE meetings.id = meeting_attendees.meeting_id);

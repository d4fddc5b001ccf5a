"""Reads mail files (.eml) and prints, as JSON, each calendar part they hold, parsed with Python's
icalendar: the METHOD of the part's content type and of the calendar, and the event's UID, SEQUENCE,
STATUS, start (with its TZID), organizer and attendees (with RSVP and PARTSTAT). A part icalendar
cannot parse fails the script.

    python3 tests/mail/check_ics.py FILE.eml…
"""
import email
import email.policy
import json
import sys

import icalendar


def parts(path):
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        calendar = icalendar.Calendar.from_ical(part.get_content())
        events = [c for c in calendar.walk("VEVENT")]
        if len(events) != 1:
            raise SystemExit(f"{path}: {len(events)} events")
        event = events[0]
        start = event["DTSTART"]
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        yield {
            "file": path,
            "part_method": part.get_param("method"),
            "method": str(calendar["METHOD"]),
            "timezones": [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")],
            "uid": str(event["UID"]),
            "sequence": int(event.get("SEQUENCE", 0)),
            "status": str(event.get("STATUS", "")),
            "start": start.dt.isoformat(),
            "start_tzid": start.params.get("TZID", ""),
            "location": str(event.get("LOCATION", "")),
            "organizer": str(event["ORGANIZER"]),
            "attendees": [
                {"address": str(a), "rsvp": a.params.get("RSVP", ""), "partstat": a.params.get("PARTSTAT", "")}
                for a in attendees
            ],
        }


print(json.dumps([p for path in sys.argv[1:] for p in parts(path)]))

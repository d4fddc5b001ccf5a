//! The iCalendar object of a meeting invitation (RFC 5545, iTIP RFC 5546), built with the `icalendar` crate:
//! `METHOD:REQUEST` for the agenda and its updates, `METHOD:CANCEL` when the meeting is cancelled. The UID
//! is the meeting's own and never changes; SEQUENCE is the meeting's, raised on every change. Times carry
//! `TZID=Europe/Paris` with its VTIMEZONE, so every client shows 14:00 in Paris whatever its own zone.

use chrono::{DateTime, Utc};
use icalendar::{
    Calendar, CalendarComponent, CalendarDateTime, Component, Event, EventLike, EventStatus,
    Property,
};

use crate::clock::PARIS;

/// What an invitation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// Someone on the invitation.
pub struct Person<'a> {
    pub name: &'a str,
    pub address: &'a str,
}

pub struct Invitation<'a> {
    pub method: Method,
    pub uid: &'a str,
    pub sequence: i64,
    pub summary: &'a str,
    pub description: &'a str,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    /// The video link: LOCATION and URL.
    pub video_url: &'a str,
    pub organizer: Person<'a>,
    pub attendees: &'a [Person<'a>],
    /// DTSTAMP: when this version was made.
    pub stamp: DateTime<Utc>,
}

/// Europe/Paris since 1996: CEST from the last Sunday of March, CET from the last Sunday of October.
const PARIS_VTIMEZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n\
DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

fn mailto(person: &Person) -> Property {
    let mut property = Property::new(
        "ATTENDEE",
        format!("mailto:{}", person.address.to_lowercase()),
    );
    if !person.name.is_empty() {
        property.add_parameter("CN", person.name);
    }
    property
}

/// The invitation as iCalendar text (CRLF lines, folded at 75 octets).
pub fn invitation(invitation: &Invitation) -> String {
    let mut calendar = Calendar::empty();
    calendar.append_property(Property::new("PRODID", "-//CNDH Romeurope//relais//FR"));
    calendar.append_property(Property::new("VERSION", "2.0"));
    calendar.append_property(Property::new("CALSCALE", "GREGORIAN"));
    calendar.append_property(Property::new("METHOD", invitation.method.as_str()));
    if let Ok(timezone) = PARIS_VTIMEZONE.parse::<CalendarComponent>() {
        calendar.push(timezone);
    }
    let mut event = Event::new();
    event
        .uid(invitation.uid)
        .sequence(invitation.sequence.max(0) as u32)
        .timestamp(invitation.stamp)
        .summary(invitation.summary)
        .description(invitation.description)
        .starts(CalendarDateTime::from_date_time(
            invitation.starts.with_timezone(&PARIS),
        ))
        .ends(CalendarDateTime::from_date_time(
            invitation.ends.with_timezone(&PARIS),
        ))
        .status(match invitation.method {
            Method::Request => EventStatus::Confirmed,
            Method::Cancel => EventStatus::Cancelled,
        });
    if !invitation.video_url.is_empty() {
        event
            .location(invitation.video_url)
            .url(invitation.video_url);
    }
    let mut organizer = Property::new(
        "ORGANIZER",
        format!("mailto:{}", invitation.organizer.address),
    );
    organizer.add_parameter("CN", invitation.organizer.name);
    event.append_property(organizer);
    for person in invitation.attendees {
        let mut attendee = mailto(person);
        attendee
            .add_parameter("ROLE", "REQ-PARTICIPANT")
            .add_parameter("PARTSTAT", "NEEDS-ACTION")
            .add_parameter("RSVP", "TRUE");
        event.append_multi_property(attendee);
    }
    calendar.push(event.done());
    calendar.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_names_its_zone_uid_sequence_and_attendees() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        let attendees = [
            Person {
                name: "Maire de Lyon",
                address: "Maire@Lyon.example",
            },
            Person {
                name: "",
                address: "dgs@lyon.example",
            },
        ];
        let text = invitation(&Invitation {
            method: Method::Request,
            uid: "reunion-1-1@club.example",
            sequence: 2,
            summary: "Club : réunion de décembre",
            description: "Ordre du jour",
            starts: at("2026-12-01T13:00:00Z"),
            ends: at("2026-12-01T15:00:00Z"),
            video_url: "https://visio.example/club",
            organizer: Person {
                name: "Club",
                address: "club@example.org",
            },
            attendees: &attendees,
            stamp: at("2026-11-24T09:00:00Z"),
        });
        let unfolded = text.replace("\r\n ", "");
        for expected in [
            "METHOD:REQUEST",
            "BEGIN:VTIMEZONE",
            "TZID:Europe/Paris",
            "UID:reunion-1-1@club.example",
            "SEQUENCE:2",
            "DTSTART;TZID=Europe/Paris:20261201T140000",
            "DTEND;TZID=Europe/Paris:20261201T160000",
            "LOCATION:https://visio.example/club",
            "mailto:maire@lyon.example",
            "RSVP=TRUE",
            "mailto:dgs@lyon.example",
            "ORGANIZER;CN=Club:mailto:club@example.org",
        ] {
            assert!(unfolded.contains(expected), "{expected} in {text}");
        }
    }
}

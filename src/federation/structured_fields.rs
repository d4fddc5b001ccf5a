//! The part of RFC 8941 Structured Field Values that RFC 9421 signatures need: dictionaries whose members
//! are items or inner lists, with parameters, holding integers, strings, tokens, byte sequences and booleans
//! (no decimals), and their canonical serialisation, which the `@signature-params` line of a signature base
//! is made of.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A bare item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Bare {
    Integer(i64),
    String(String),
    Token(String),
    Bytes(Vec<u8>),
    Boolean(bool),
}

/// Parameters, in order (`;name=value`, a lone `;name` being `true`).
pub(super) type Parameters = Vec<(String, Bare)>;

/// A dictionary member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Member {
    Item(Bare, Parameters),
    InnerList(Vec<(Bare, Parameters)>, Parameters),
}

/// Reads a dictionary (`a=(…);p=1, b=:…:`), keeping its order.
pub(super) fn parse_dictionary(text: &str) -> Result<Vec<(String, Member)>, String> {
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
    };
    let mut members = Vec::new();
    parser.skip(b" \t");
    while !parser.done() {
        let key = parser.key()?;
        let member = if parser.eat(b'=') {
            parser.member()?
        } else {
            Member::Item(Bare::Boolean(true), parser.parameters()?)
        };
        // A repeated key replaces the earlier one, as RFC 8941 says.
        members.retain(|(seen, _): &(String, Member)| *seen != key);
        members.push((key, member));
        parser.skip(b" \t");
        if parser.done() {
            break;
        }
        if !parser.eat(b',') {
            return Err(parser.unexpected("« , »"));
        }
        parser.skip(b" \t");
        if parser.done() {
            return Err("virgule finale".to_string());
        }
    }
    Ok(members)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn skip(&mut self, bytes: &[u8]) {
        while self.peek().is_some_and(|b| bytes.contains(&b)) {
            self.at += 1;
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        match self.peek() {
            Some(byte) => format!(
                "{wanted} attendu à la position {}, « {} » trouvé",
                self.at, byte as char
            ),
            None => format!("{wanted} attendu, fin du champ trouvée"),
        }
    }

    /// Takes bytes while `accept` holds.
    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &str {
        let start = self.at;
        while self.peek().is_some_and(&accept) {
            self.at += 1;
        }
        std::str::from_utf8(&self.text[start..self.at]).expect("ASCII bytes")
    }

    fn key(&mut self) -> Result<String, String> {
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
        {
            return Err(self.unexpected("une clé"));
        }
        Ok(self
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b))
            .to_string())
    }

    fn member(&mut self) -> Result<Member, String> {
        if !self.eat(b'(') {
            let item = self.bare()?;
            return Ok(Member::Item(item, self.parameters()?));
        }
        let mut items = Vec::new();
        loop {
            self.skip(b" ");
            if self.eat(b')') {
                break;
            }
            let item = self.bare()?;
            items.push((item, self.parameters()?));
            if !matches!(self.peek(), Some(b' ') | Some(b')')) {
                return Err(self.unexpected("« ) » ou une espace"));
            }
        }
        Ok(Member::InnerList(items, self.parameters()?))
    }

    fn parameters(&mut self) -> Result<Parameters, String> {
        let mut parameters: Parameters = Vec::new();
        while self.eat(b';') {
            self.skip(b" ");
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare()?
            } else {
                Bare::Boolean(true)
            };
            parameters.retain(|(seen, _)| *seen != key);
            parameters.push((key, value));
        }
        Ok(parameters)
    }

    fn bare(&mut self) -> Result<Bare, String> {
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        Some(b'\\') => {
                            self.at += 1;
                            match self.peek() {
                                Some(b @ (b'"' | b'\\')) => text.push(b as char),
                                _ => return Err(self.unexpected("« \" » ou « \\ »")),
                            }
                        }
                        Some(b'"') => {
                            self.at += 1;
                            return Ok(Bare::String(text));
                        }
                        Some(b @ 0x20..=0x7e) => text.push(b as char),
                        _ => return Err(self.unexpected("la fin de la chaîne")),
                    }
                    self.at += 1;
                }
            }
            Some(b':') => {
                self.at += 1;
                let encoded = self
                    .take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                    .to_string();
                if !self.eat(b':') {
                    return Err(self.unexpected("« : »"));
                }
                STANDARD
                    .decode(encoded)
                    .map(Bare::Bytes)
                    .map_err(|_| "suite d'octets non base64".to_string())
            }
            Some(b'?') => {
                self.at += 1;
                let value = match self.peek() {
                    Some(b'1') => true,
                    Some(b'0') => false,
                    _ => return Err(self.unexpected("?0 ou ?1")),
                };
                self.at += 1;
                Ok(Bare::Boolean(value))
            }
            Some(b'-' | b'0'..=b'9') => {
                let negative = self.eat(b'-');
                let digits = self.take_while(|b| b.is_ascii_digit()).to_string();
                if digits.is_empty() || digits.len() > 15 || self.peek() == Some(b'.') {
                    return Err(format!("entier invalide : « {digits} »"));
                }
                let value: i64 = digits.parse().expect("digits");
                Ok(Bare::Integer(if negative { -value } else { value }))
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => Ok(Bare::Token(
                self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b))
                    .to_string(),
            )),
            _ => Err(self.unexpected("une valeur")),
        }
    }
}

/// The canonical form of a bare item.
pub(super) fn serialize_bare(item: &Bare) -> String {
    match item {
        Bare::Integer(value) => value.to_string(),
        Bare::String(text) => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        Bare::Token(token) => token.clone(),
        Bare::Bytes(bytes) => format!(":{}:", STANDARD.encode(bytes)),
        Bare::Boolean(value) => if *value { "?1" } else { "?0" }.to_string(),
    }
}

/// The canonical form of parameters (`;name=value`, `;name` for `true`).
pub(super) fn serialize_parameters(parameters: &Parameters) -> String {
    parameters
        .iter()
        .map(|(key, value)| match value {
            Bare::Boolean(true) => format!(";{key}"),
            _ => format!(";{key}={}", serialize_bare(value)),
        })
        .collect()
}

/// The canonical form of an inner list with its parameters.
pub(super) fn serialize_inner_list(
    items: &[(Bare, Parameters)],
    parameters: &Parameters,
) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|(item, item_parameters)| {
            serialize_bare(item) + &serialize_parameters(item_parameters)
        })
        .collect();
    format!("({}){}", items.join(" "), serialize_parameters(parameters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_input_reads_and_serialises_back() {
        let text = r#"sig1=("@method" "@query-param";name="Pet" "content-digest");created=1618884473;keyid="test-key-rsa-pss";alg="rsa-pss-sha512", other=:AAEC:;flag"#;
        let members = parse_dictionary(text).unwrap();
        assert_eq!(members.len(), 2);
        let Member::InnerList(items, parameters) = &members[0].1 else {
            panic!("{members:?}")
        };
        assert_eq!(
            serialize_inner_list(items, parameters),
            r#"("@method" "@query-param";name="Pet" "content-digest");created=1618884473;keyid="test-key-rsa-pss";alg="rsa-pss-sha512""#
        );
        assert_eq!(
            members[1].1,
            Member::Item(
                Bare::Bytes(vec![0, 1, 2]),
                vec![("flag".to_string(), Bare::Boolean(true))]
            )
        );
    }

    #[test]
    fn broken_fields_are_refused() {
        for text in [
            "sig1=(\"@method\"",
            "sig1=(\"@method\");=1",
            "Sig1=()",
            "sig1=:not base64!:",
            "sig1=(), ",
            "sig1=() sig2=()",
            "sig1=\"open",
            "sig1=1.5",
        ] {
            assert!(parse_dictionary(text).is_err(), "{text}");
        }
    }
}

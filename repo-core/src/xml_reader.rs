//! The streaming XML reader the repodata readers share: quick-xml events turned into start
//! tags with unescaped attributes, text and end tags, one document of `<ROOT>` holding
//! `<ITEM>` elements (`<metadata>`/`<package>`, `<repomd>`/`<data>`, …).
//!
//! Owns: well-formedness, entity handling, truncation and item-count checks, and errors that
//! name the file and the byte where reading stopped. Must not: know what any element means.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::BufRead;
use std::path::PathBuf;
use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::{Error, Result};

/// A start tag's name and attributes (unescaped).
pub(crate) struct StartTag {
    pub(crate) name: Vec<u8>,
    attributes: Vec<(Vec<u8>, String)>,
}

impl StartTag {
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name.as_bytes())
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn display_name(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// What the streaming reader hands out.
enum Node {
    Start(StartTag),
    End,
    Text(String),
    Eof,
}

/// The predefined XML entities.
fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// An event as a [`Node`]; `None` for what the readers ignore (comments, declarations).
fn convert(event: Event<'_>) -> std::result::Result<Option<Node>, String> {
    Ok(Some(match event {
        Event::Start(start) => {
            let mut attributes = Vec::new();
            for attribute in start.attributes() {
                let attribute = attribute.map_err(|e| format!("bad attribute: {e}"))?;
                let value = attribute
                    .unescape_value()
                    .map_err(|e| format!("bad attribute value: {e}"))?;
                attributes.push((attribute.key.as_ref().to_vec(), value.into_owned()));
            }
            Node::Start(StartTag {
                name: start.name().as_ref().to_vec(),
                attributes,
            })
        }
        Event::End(_) => Node::End,
        // Empty elements are expanded into start and end by the reader's settings.
        Event::Empty(_) => return Err("unexpected empty element".into()),
        Event::Text(text) => Node::Text(
            text.xml10_content()
                .map_err(|e| format!("bad text: {e}"))?
                .into_owned(),
        ),
        Event::CData(data) => Node::Text(
            data.decode()
                .map_err(|e| format!("bad CDATA: {e}"))?
                .into_owned(),
        ),
        Event::GeneralRef(reference) => {
            let name = reference
                .decode()
                .map_err(|e| format!("bad reference: {e}"))?
                .into_owned();
            let resolved = if reference.is_char_ref() {
                reference
                    .resolve_char_ref()
                    .map_err(|e| format!("bad character reference &{name};: {e}"))?
                    .map(String::from)
            } else {
                predefined_entity(&name).map(str::to_owned)
            };
            Node::Text(resolved.ok_or_else(|| format!("unknown entity &{name};"))?)
        }
        Event::Eof => Node::Eof,
        Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => return Ok(None),
    }))
}

/// One metadata document being read: a root element holding `<package>` elements.
pub(crate) struct Document {
    reader: Reader<Box<dyn BufRead + Send>>,
    buffer: Vec<u8>,
    pub(crate) path: PathBuf,
    root: &'static str,
    item: &'static str,
    started: bool,
    finished: bool,
    declared: Option<u64>,
    pub(crate) packages: u64,
}

impl Document {
    pub(crate) fn new(
        input: Box<dyn BufRead + Send>,
        path: PathBuf,
        root: &'static str,
    ) -> Document {
        Document::with_items(input, path, root, "package")
    }

    pub(crate) fn with_items(
        input: Box<dyn BufRead + Send>,
        path: PathBuf,
        root: &'static str,
        item: &'static str,
    ) -> Document {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        Document {
            reader,
            buffer: Vec::new(),
            path,
            root,
            item,
            started: false,
            finished: false,
            declared: None,
            packages: 0,
        }
    }

    pub(crate) fn error(&self, reason: impl Display) -> Error {
        Error::Repodata {
            path: self.path.clone(),
            reason: format!(
                "{reason} (near byte {} of the uncompressed document)",
                self.reader.buffer_position()
            ),
        }
    }

    fn next_node(&mut self) -> Result<Node> {
        loop {
            self.buffer.clear();
            let converted = match self.reader.read_event_into(&mut self.buffer) {
                Ok(event) => convert(event),
                Err(err) => Err(format!("not well-formed XML: {err}")),
            };
            match converted {
                Ok(Some(node)) => return Ok(node),
                Ok(None) => {}
                Err(reason) => return Err(self.error(reason)),
            }
        }
    }

    fn truncated(&self, inside: &str) -> Error {
        self.error(format!("truncated: the document ends inside <{inside}>"))
    }

    /// The text of the element just opened, up to its end tag.
    pub(crate) fn text(&mut self, element: &StartTag) -> Result<String> {
        let mut text = String::new();
        loop {
            match self.next_node()? {
                Node::Text(part) => text.push_str(&part),
                Node::End => return Ok(text),
                Node::Start(inner) => {
                    return Err(self.error(format!(
                        "unexpected <{}> inside <{}>",
                        inner.display_name(),
                        element.display_name()
                    )));
                }
                Node::Eof => return Err(self.truncated(&element.display_name())),
            }
        }
    }

    /// Skips the rest of the element just opened.
    pub(crate) fn skip(&mut self, element: &StartTag) -> Result<()> {
        let mut depth = 1usize;
        loop {
            match self.next_node()? {
                Node::Start(_) => depth += 1,
                Node::End => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Node::Text(_) => {}
                Node::Eof => return Err(self.truncated(&element.display_name())),
            }
        }
    }

    /// The next child element of the element being read; `None` at its end tag.
    pub(crate) fn child(&mut self, parent: &str) -> Result<Option<StartTag>> {
        loop {
            match self.next_node()? {
                Node::Start(tag) => return Ok(Some(tag)),
                Node::End => return Ok(None),
                Node::Text(_) => {}
                Node::Eof => return Err(self.truncated(parent)),
            }
        }
    }

    /// Moves to the next item (`<package>`) and returns its start tag; `None` after the root
    /// ends.
    pub(crate) fn next_package(&mut self) -> Result<Option<StartTag>> {
        if self.finished {
            return Ok(None);
        }
        if !self.started {
            let root = loop {
                match self.next_node()? {
                    Node::Start(tag) => break tag,
                    Node::Text(_) => {}
                    Node::End | Node::Eof => {
                        return Err(self.error(format!("no <{}> element", self.root)));
                    }
                }
            };
            if root.name != self.root.as_bytes() {
                return Err(self.error(format!(
                    "the document is <{}>, expected <{}>",
                    root.display_name(),
                    self.root
                )));
            }
            if let Some(count) = root.attribute("packages") {
                self.declared = Some(
                    count
                        .parse()
                        .map_err(|_| self.error(format!("packages=\"{count}\" is not a count")))?,
                );
            }
            self.started = true;
        }
        loop {
            match self.child(self.root)? {
                Some(tag) if tag.name == self.item.as_bytes() => {
                    self.packages += 1;
                    return Ok(Some(tag));
                }
                Some(other) => self.skip(&other)?,
                None => {
                    self.finished = true;
                    if let Some(declared) = self.declared.filter(|&d| d != self.packages) {
                        return Err(self.error(format!(
                            "declares {declared} packages but holds {}",
                            self.packages
                        )));
                    }
                    return Ok(None);
                }
            }
        }
    }

    pub(crate) fn required<'t>(&self, tag: &'t StartTag, attribute: &str) -> Result<&'t str> {
        tag.attribute(attribute).ok_or_else(|| {
            self.error(format!(
                "<{}> has no {attribute} attribute",
                tag.display_name()
            ))
        })
    }

    pub(crate) fn number<T: FromStr>(&self, tag: &StartTag, attribute: &str) -> Result<T> {
        let Some(text) = tag.attribute(attribute) else {
            return T::from_str("0").map_err(|_| self.error("no default number"));
        };
        text.trim().parse().map_err(|_| {
            self.error(format!(
                "<{} {attribute}=\"{text}\">: not a number",
                tag.display_name()
            ))
        })
    }
}

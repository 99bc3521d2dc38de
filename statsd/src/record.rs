//! What a parser extracts from one log line, and why a line can be rejected.
//!
//! Owns the format-independent [`Request`] (borrowed from the line, no allocation) and the
//! closed list of rejection reasons. Must not decide what counts as a download.

/// How the path and user agent of a [`Request`] are escaped in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// CloudFront (W3C standard logs and v2 JSON): every field is URL-encoded by CloudFront,
    /// `%` itself as `%25`, on top of the encoding the client used in the URL. Paths are
    /// decoded twice, user agents once.
    CloudFront,
    /// The request target as the client sent it (combined logs, Fastly): paths are decoded
    /// once, user agents are taken as logged.
    AsSent,
}

/// One request, as logged. Slices point into the line (or the parser's scratch buffers).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Unix seconds, UTC.
    pub timestamp: i64,
    pub method: &'a [u8],
    /// HTTP status; 0 for CloudFront's `000` (client went away before the response).
    pub status: u16,
    /// The path without query string, still escaped as [`Request::encoding`] says.
    pub path: &'a [u8],
    /// The query string without `?`, empty when there is none.
    pub query: &'a [u8],
    pub user_agent: &'a [u8],
    /// Host the request was sent to, empty when the format does not log it.
    pub host: &'a [u8],
    /// Bytes sent to the client (CloudFront: including headers).
    pub bytes_sent: Option<u64>,
    /// Content-Length of the response (CloudFront `sc-content-len`).
    pub content_length: Option<u64>,
    /// Last byte of a 206 response's range (CloudFront `sc-range-end`).
    pub range_end: Option<u64>,
    /// The CDN says the transfer failed (CloudFront `x-edge-result-type` `Error`).
    pub transfer_failed: bool,
    pub encoding: Encoding,
}

macro_rules! rejections {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why a line was not counted at all. Every rejected line has exactly one reason.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rejection {
            $(#[doc = $doc] $variant,)*
        }

        impl Rejection {
            /// Every reason, in report order.
            pub const ALL: &[Rejection] = &[$(Rejection::$variant,)*];

            /// Stable snake_case name (summaries, database, JSON).
            pub fn name(self) -> &'static str {
                match self {
                    $(Rejection::$variant => $name,)*
                }
            }

            /// Reason from its [`Rejection::name`].
            pub fn from_name(name: &str) -> Option<Rejection> {
                match name {
                    $($name => Some(Rejection::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

rejections! {
    LineTooLong => "line_too_long", "Longer than the reader's line limit; skipped unread.";
    UnterminatedLine => "unterminated_line", "Last line without newline: the file was cut mid-line.";
    TruncatedStream => "truncated_stream", "The compressed stream ended early or is corrupt (once per file).";
    UnknownFormat => "unknown_format", "The line matches no supported log format.";
    DataBeforeFields => "data_before_fields", "A CloudFront data line before any `#Fields:` header.";
    TooFewFields => "too_few_fields", "Fewer fields than the `#Fields:` header names.";
    MissingField => "missing_field", "A field needed for counting is absent.";
    BadJson => "bad_json", "A JSON body that is not one well-formed object.";
    BadTimestamp => "bad_timestamp", "Date or time cannot be parsed.";
    BadStatus => "bad_status", "The status is not three digits.";
    BadRequestLine => "bad_request_line", "A combined-log request line that is not `METHOD /target [PROTOCOL]`.";
    BadPath => "bad_path", "The decoded path is not UTF-8 or not absolute.";
    DoubleEncodedPath => "double_encoded_path", "The path still holds `%XX` after the decoding its format requires.";
    OtherHost => "other_host", "Sent to a host outside the configured host list.";
    ClientClosed => "status_000", "CloudFront status 000: the client went away before the response.";
    ClientError => "status_4xx", "4xx response.";
    ServerError => "status_5xx", "5xx response.";
}

impl Rejection {
    /// True for reasons given to a well-formed request (status, host, path), false for lines
    /// that are not a request at all.
    pub fn is_about_the_request(self) -> bool {
        matches!(
            self,
            Rejection::ClientClosed
                | Rejection::ClientError
                | Rejection::ServerError
                | Rejection::OtherHost
                | Rejection::DoubleEncodedPath
                | Rejection::BadPath
        )
    }
}

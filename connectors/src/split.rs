//! CSV records with the physical line each starts on, and quotes that never close.
//!
//! `csv_core` does the splitting (RFC 4180 quoting, `\r\n`, `\n` and lone `\r` each one
//! terminator, blank lines skipped); this module feeds it and keeps the two things it does
//! not: the physical line of every record's first byte in the delivered text (a `\r\n` is one
//! line end, a lone `\r` one, a `\n` one, line ends inside quoted fields counted too), and
//! the record's raw bytes, so that a record whose quote never closes can be handed back as
//! the physical lines it swallowed instead of one record. Everything streams: memory is the
//! read buffer plus the longest record, and a record longer than [`MAX_RECORD_BYTES`] stops
//! the file with an error naming the line its quote opened on.

use std::io::Read;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// The longest record kept whole: a quote left open in a large delivery is reported, not
/// buffered to the end of the file.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// What [`Splitter::next`] yields.
#[derive(Debug)]
pub enum Piece {
    /// A record: the physical line it starts on and how many physical lines it spans; its
    /// fields are [`Splitter::field`], its bytes as delivered [`Splitter::raw`].
    Record {
        /// Physical line of its first byte (1-based).
        line: u64,
        /// Physical lines it spans (1 unless a quoted field holds a line end).
        lines: u64,
        /// How many fields it has.
        fields: usize,
    },
    /// A record that ends at the end of the text inside a quoted field: its quote never
    /// closed. `lines` are the physical lines it covers, from its first, each with its number.
    Unterminated {
        /// The line the open quote is on.
        quote_line: u64,
        /// Each physical line from the record's first to the end of the text (blank ones
        /// left out, as for records).
        lines: Vec<(u64, Vec<u8>)>,
    },
}

/// A record ran past [`MAX_RECORD_BYTES`].
#[derive(Debug)]
pub struct Runaway {
    /// The line the record starts on.
    pub line: u64,
    /// The line its open quote is on.
    pub quote_line: u64,
}

/// Errors from the splitter: reading failed, or a record ran away.
#[derive(Debug)]
pub enum SplitError {
    /// The reader failed.
    Io(std::io::Error),
    /// A record grew past the limit.
    Runaway(Runaway),
}

/// Streams CSV records with their physical lines.
pub struct Splitter<R> {
    rdr: R,
    core: Reader,
    quote: u8,
    delimiter: u8,
    buf: Vec<u8>,
    /// Start of the current record's raw bytes in `buf`.
    start: usize,
    /// Next byte for `csv_core`.
    pos: usize,
    /// End of the data in `buf`.
    end: usize,
    eof: bool,
    /// Physical line at `start` (or at `pos` between records).
    line: u64,
    /// The last line-end byte counted was a `\r` (so a `\n` right after it is the same end).
    prev_cr: bool,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Fields of the last record.
    nend: usize,
    /// The last record's bytes in `buf`, without its line end.
    raw: (usize, usize),
    done: bool,
}

impl<R: Read> Splitter<R> {
    /// A splitter over `rdr`.
    pub fn new(rdr: R, delimiter: u8, quote: u8) -> Self {
        Splitter {
            rdr,
            core: ReaderBuilder::new()
                .delimiter(delimiter)
                .quote(quote)
                .build(),
            quote,
            delimiter,
            buf: vec![0; 1 << 20],
            start: 0,
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            prev_cr: false,
            out: vec![0; 1 << 12],
            ends: vec![0; 64],
            nend: 0,
            raw: (0, 0),
            done: false,
        }
    }

    /// Reads more input, keeping the current record's bytes; false at the end of the text.
    fn fill(&mut self) -> Result<bool, SplitError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.pos -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(MAX_RECORD_BYTES + (1 << 20));
            if grown == self.buf.len() {
                let (quote_line, _) =
                    open_quote(&self.buf[..self.end], self.delimiter, self.quote, self.line);
                return Err(SplitError::Runaway(Runaway {
                    line: self.line,
                    quote_line: quote_line.unwrap_or(self.line),
                }));
            }
            self.buf.resize(grown, 0);
        }
        loop {
            match self.rdr.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SplitError::Io(e)),
            }
        }
    }

    /// Skips line ends between records, counting them.
    fn skip_line_ends(&mut self) -> Result<(), SplitError> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b'\r' => {
                        self.line += 1;
                        self.prev_cr = true;
                    }
                    b'\n' => {
                        if !self.prev_cr {
                            self.line += 1;
                        }
                        self.prev_cr = false;
                    }
                    _ => {
                        self.prev_cr = false;
                        return Ok(());
                    }
                }
                self.pos += 1;
            }
            self.start = self.pos;
            if !self.fill()? {
                return Ok(());
            }
        }
    }

    /// The next record, or `None` at the end of the text.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, SplitError> {
        if self.done {
            return Ok(None);
        }
        self.skip_line_ends()?;
        self.start = self.pos;
        let (mut nout, mut nend) = (0usize, 0usize);
        loop {
            let input = &self.buf[self.pos..self.end];
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.pos += nin;
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::InputEmpty => {
                    // At the end of the text `csv_core` is called with no input to finish.
                    if !self.fill()? && self.pos == self.end {
                        let (res, _, o, e) = self.core.read_record(
                            &[],
                            &mut self.out[nout..],
                            &mut self.ends[nend..],
                        );
                        nout += o;
                        nend += e;
                        if matches!(res, ReadRecordResult::End) {
                            self.done = true;
                            return Ok(None);
                        }
                        return Ok(Some(self.finish(nout, nend, true)));
                    }
                }
                ReadRecordResult::OutputFull => {
                    let n = self.out.len();
                    self.out.resize(n * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len();
                    self.ends.resize(n * 2, 0);
                }
                ReadRecordResult::Record => return Ok(Some(self.finish(nout, nend, false))),
                ReadRecordResult::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }

    /// Builds the piece for the record in `buf[start..pos]`.
    fn finish(&mut self, nout: usize, nend: usize, at_eof: bool) -> Piece {
        let raw = &self.buf[self.start..self.pos];
        let first_line = self.line;
        if at_eof {
            let (quote_line, _) = open_quote(raw, self.delimiter, self.quote, first_line);
            if let Some(quote_line) = quote_line {
                self.done = true;
                return Piece::Unterminated {
                    quote_line,
                    lines: physical_lines(raw, first_line),
                };
            }
        }
        // Line ends inside the record and its own terminator.
        let mut breaks = 0u64;
        let mut prev_cr = false;
        for i in memchr::memchr2_iter(b'\r', b'\n', raw) {
            if raw[i] == b'\r' {
                breaks += 1;
                prev_cr = i + 1 == raw.len();
            } else if i == 0 || raw[i - 1] != b'\r' {
                breaks += 1;
                prev_cr = false;
            } else {
                prev_cr = false;
            }
        }
        let body = trim_line_end(raw).len();
        let inner = breaks - (body != raw.len()) as u64;
        let _ = nout;
        self.nend = nend;
        self.raw = (self.start, self.start + body);
        let piece = Piece::Record {
            line: first_line,
            lines: inner + 1,
            fields: nend,
        };
        self.line += breaks;
        self.prev_cr = prev_cr;
        self.start = self.pos;
        piece
    }
}

impl<R> Splitter<R> {
    /// Field `i` of the last record, unquoted.
    pub fn field(&self, i: usize) -> &[u8] {
        let from = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[from..self.ends[i]]
    }

    /// The last record's fields.
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.nend).map(|i| self.field(i))
    }

    /// The last record's bytes as delivered, without its line end.
    pub fn raw(&self) -> &[u8] {
        &self.buf[self.raw.0..self.raw.1]
    }
}

/// A record's bytes without the line end `csv_core` consumed with it.
fn trim_line_end(raw: &[u8]) -> &[u8] {
    let mut n = raw.len();
    if n > 0 && raw[n - 1] == b'\n' {
        n -= 1;
    }
    if n > 0 && raw[n - 1] == b'\r' {
        n -= 1;
    }
    &raw[..n]
}

/// Whether `raw` (one record's bytes, starting on `first_line`) ends inside a quoted field,
/// and if so the line that quote opened on; also the physical lines the bytes span.
fn open_quote(raw: &[u8], delimiter: u8, quote: u8, first_line: u64) -> (Option<u64>, u64) {
    let mut line = first_line;
    let mut field_start = true;
    let mut in_quotes = false;
    let mut opened = first_line;
    let mut i = 0;
    let mut prev_cr = false;
    while i < raw.len() {
        let b = raw[i];
        let is_break = b == b'\r' || (b == b'\n' && !prev_cr);
        prev_cr = b == b'\r';
        if is_break {
            line += 1;
        }
        if in_quotes {
            if b == quote {
                if raw.get(i + 1) == Some(&quote) {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
        } else if b == delimiter || b == b'\r' || b == b'\n' {
            field_start = true;
            i += 1;
            continue;
        } else if field_start && b == quote {
            in_quotes = true;
            opened = line;
        }
        field_start = false;
        i += 1;
    }
    (in_quotes.then_some(opened), line)
}

/// The physical lines of `raw`, numbered from `first_line`, blank ones left out.
pub fn physical_lines(raw: &[u8], first_line: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut line = first_line;
    let mut from = 0;
    let mut i = 0;
    while i <= raw.len() {
        let at_end = i == raw.len();
        if at_end || raw[i] == b'\r' || raw[i] == b'\n' {
            if i > from {
                out.push((line, raw[from..i].to_vec()));
            }
            if at_end {
                break;
            }
            if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            line += 1;
            from = i + 1;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece of `text` as (line, lines, fields) or ("open", quote line, lines).
    fn split(text: &[u8], chunk: usize) -> Vec<String> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = Splitter::new(Chunked(text, chunk), b',', b'"');
        let mut got = Vec::new();
        while let Some(p) = s.next_piece().unwrap() {
            got.push(match p {
                Piece::Record { line, lines, .. } => format!(
                    "{line}+{lines}:{}",
                    s.fields()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect::<Vec<_>>()
                        .join("|")
                ),
                Piece::Unterminated { quote_line, lines } => format!(
                    "open@{quote_line}:{}",
                    lines
                        .iter()
                        .map(|(n, l)| format!("{n}={}", String::from_utf8_lossy(l)))
                        .collect::<Vec<_>>()
                        .join(";")
                ),
            });
        }
        got
    }

    #[test]
    fn physical_lines_for_every_line_end() {
        for chunk in [1, 2, 3, 7, 1 << 20] {
            let lf = split(b"h1,h2\na,b\n\nc,d\n", chunk);
            assert_eq!(lf, ["1+1:h1|h2", "2+1:a|b", "4+1:c|d"], "chunk {chunk}");
            let crlf = split(b"h1,h2\r\na,b\r\n\r\nc,d\r\n", chunk);
            assert_eq!(crlf, lf, "CRLF, chunk {chunk}");
            let cr = split(b"h1,h2\ra,b\r\rc,d", chunk);
            assert_eq!(cr, lf, "CR, chunk {chunk}");
            let mixed = split(b"h1,h2\r\na,b\n\rc,d\r", chunk);
            assert_eq!(mixed, lf, "mixed, chunk {chunk}");
            // A quoted field spanning lines: the next record's line counts them.
            let spanning = split(b"h1,h2\r\n\"x\r\ny\",b\r\nc,d\n", chunk);
            assert_eq!(
                spanning,
                ["1+1:h1|h2", "2+2:x\r\ny|b", "4+1:c|d"],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_quote_that_never_closes_gives_back_its_lines() {
        for chunk in [1, 5, 1 << 20] {
            let got = split(b"h1,h2\r\na,b\r\nc,\"d\r\ne,f\r\n\r\ng,h\r\n", chunk);
            assert_eq!(
                got,
                ["1+1:h1|h2", "2+1:a|b", "open@3:3=c,\"d;4=e,f;6=g,h"],
                "chunk {chunk}"
            );
        }
        // The opening quote on a later line of the record.
        let got = split(b"h\n\"a\nb\",\"c\nd\n", 1 << 20);
        assert_eq!(got, ["1+1:h", "open@3:2=\"a;3=b\",\"c;4=d"]);
        // An escaped quote is not an opening one; a quote inside an unquoted field neither.
        let got = split(b"h1,h2\n\"a\"\"b\",c\"d\n", 1 << 20);
        assert_eq!(got, ["1+1:h1|h2", "2+1:a\"b|c\"d"]);
    }

    #[test]
    fn a_runaway_record_is_an_error_naming_its_line() {
        let mut text = b"h\na\n\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + (2 << 20)));
        let mut s = Splitter::new(&text[..], b',', b'"');
        assert!(matches!(
            s.next_piece(),
            Ok(Some(Piece::Record { line: 1, .. }))
        ));
        assert!(matches!(
            s.next_piece(),
            Ok(Some(Piece::Record { line: 2, .. }))
        ));
        match s.next_piece() {
            Err(SplitError::Runaway(r)) => assert_eq!((r.line, r.quote_line), (3, 3)),
            other => panic!("{other:?}"),
        }
    }
}

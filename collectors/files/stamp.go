package files

import (
	"bytes"
	"time"
)

// stamp is a time found at the start of a log line.
type stamp struct {
	t time.Time
	// end is where the line's text begins once the stamp and the blanks
	// after it are stripped; meaningful only when strip is set.
	end   int
	strip bool
	// level is the severity the stamp itself carries (klog's letter).
	level string
}

// parseStamp finds the time a log line starts with. It knows ISO 8601 /
// RFC 3339 stamps with T or space, comma or dot fractions and optional
// zone ("2025-08-21T03:49:15.867Z", "2025-08-21 03:49:15,867",
// "2025/08/21 03:49:15", "[2025-08-21 03:49:15,867]"), which it strips; and
// klog ("I0821 03:49:15.867123"), syslog ("Aug 21 03:49:15"), Apache error
// ("[Sun Dec 04 04:47:44 2005]") and nginx/Apache access log
// ("[21/Aug/2025:03:49:15 +0000]" after the client address) stamps, which
// stay in the text because they are part of how those lines read. year
// completes the stamps that carry none (klog, syslog).
//
// Each format is recognized by a few fixed bytes before any number is
// read, so a line that has no stamp costs a handful of comparisons.
func parseStamp(b []byte, year int) (stamp, bool) {
	if len(b) < 14 {
		return stamp{}, false
	}
	c := b[0]
	switch {
	case isDigit(c):
		if t, n, ok := parseISO(b); ok && boundary(b, n) {
			return stamp{t: t, end: skipBlanks(b, n), strip: true}, true
		}
	case c == '[':
		if isDigit(b[1]) {
			if t, n, ok := parseISO(b[1:]); ok && n+1 < len(b) && b[n+1] == ']' {
				return stamp{t: t, end: skipBlanks(b, n+2), strip: true}, true
			}
		} else if t, ok := parseApacheError(b); ok {
			return stamp{t: t}, true
		}
	case (c == 'I' || c == 'W' || c == 'E' || c == 'F') && isDigit(b[1]):
		if t, ok := parseKlog(b, year); ok {
			return stamp{t: t, level: klogLevel(c)}, true
		}
	case c >= 'A' && c <= 'Z':
		if t, ok := parseSyslog(b, year); ok {
			return stamp{t: t}, true
		}
	}
	if t, ok := parseAccessLog(b); ok {
		return stamp{t: t}, true
	}
	return stamp{}, false
}

// parseTimeString reads a whole string as a time in one of the ISO forms
// parseStamp strips: what JSON logs and Kubernetes objects put in their
// time fields.
func parseTimeString(s string) (time.Time, bool) {
	if len(s) < 19 || !isDigit(s[0]) {
		return time.Time{}, false
	}
	t, n, ok := parseISO([]byte(s))
	if !ok || n != len(s) {
		return time.Time{}, false
	}
	return t, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// boundary reports whether a stamp of n bytes ends where b's words end, so
// that "2025-08-21T03:49:15Zebra" is not read as a stamp.
func boundary(b []byte, n int) bool { return n == len(b) || !isAlnum(b[n]) }

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// num reads n ASCII digits at b[i:].
func num(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseISO reads "YYYY-MM-DD[T ]hh:mm:ss[.,frac][zone]" (or with '/' in
// the date) at the start of b and returns the time and its length. A stamp
// without zone is UTC.
func parseISO(b []byte) (time.Time, int, bool) {
	if len(b) < 19 {
		return time.Time{}, 0, false
	}
	sep := b[4]
	if (sep != '-' && sep != '/') || b[7] != sep || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') ||
		b[13] != ':' || b[16] != ':' {
		return time.Time{}, 0, false
	}
	year, ok1 := num(b, 0, 4)
	month, ok2 := num(b, 5, 2)
	day, ok3 := num(b, 8, 2)
	hour, ok4 := num(b, 11, 2)
	minute, ok5 := num(b, 14, 2)
	sec, ok6 := num(b, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validClock(year, month, day, hour, minute, sec) {
		return time.Time{}, 0, false
	}
	i := 19
	nsec := 0
	if i+1 < len(b) && (b[i] == '.' || b[i] == ',') && isDigit(b[i+1]) {
		i++
		nsec, i = fraction(b, i)
	}
	loc := time.UTC
	offset, n, hasZone := parseZone(b, i)
	if hasZone {
		i = n
		if offset != 0 {
			loc = time.FixedZone("", offset)
		}
		i = zoneName(b, i)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).UTC()
	return t, i, true
}

// fraction reads fractional-second digits at b[i:], keeping nanoseconds and
// skipping any digits beyond them.
func fraction(b []byte, i int) (int, int) {
	nsec, digits := 0, 0
	for ; i < len(b) && isDigit(b[i]); i++ {
		if digits < 9 {
			nsec = nsec*10 + int(b[i]-'0')
			digits++
		}
	}
	for ; digits < 9; digits++ {
		nsec *= 10
	}
	return nsec, i
}

// parseZone reads "Z", "+hh:mm", "+hhmm" or "+hh" at b[i:], also after one
// space ("2025-08-21 03:49:15 +0000"), and returns the offset in seconds
// and where the zone ends.
func parseZone(b []byte, i int) (int, int, bool) {
	if i >= len(b) {
		return 0, i, false
	}
	if b[i] == 'Z' || b[i] == 'z' {
		return 0, i + 1, true
	}
	j, spaced := i, false
	if b[j] == ' ' {
		j, spaced = j+1, true
	}
	if j >= len(b) || (b[j] != '+' && b[j] != '-') {
		return 0, i, false
	}
	sign := 1
	if b[j] == '-' {
		sign = -1
	}
	hh, ok := num(b, j+1, 2)
	if !ok || hh > 24 { // time.Parse takes +24:00 too
		return 0, i, false
	}
	end, mm := j+3, 0
	if end < len(b) && b[end] == ':' {
		m, ok := num(b, end+1, 2)
		if !ok {
			return 0, i, false
		}
		mm, end = m, end+3
	} else if m, ok := num(b, end, 2); ok {
		mm, end = m, end+2
	} else if spaced {
		// After a space, a bare "+hh" is too likely to be text.
		return 0, i, false
	}
	if mm > 59 || (end < len(b) && isDigit(b[end])) {
		return 0, i, false
	}
	return sign * (hh*3600 + mm*60), end, true
}

// zoneName skips the abbreviation Go's time.String puts after a numeric
// zone ("+0000 UTC"), which names the same zone again.
func zoneName(b []byte, i int) int {
	if i >= len(b) || b[i] != ' ' || i > 0 && b[i-1] == 'Z' {
		return i
	}
	j := i + 1
	for j < len(b) && b[j] >= 'A' && b[j] <= 'Z' {
		j++
	}
	// A level word after the zone ("+0000 INFO") is the message's.
	if n := j - i - 1; n < 3 || n > 5 || !boundary(b, j) || levelName(b[i+1:j]) != "" {
		return i
	}
	return j
}

func validClock(year, month, day, hour, minute, sec int) bool {
	return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year) &&
		hour <= 23 && minute <= 59 && sec <= 60
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// monthOf reads an English month abbreviation ("Aug").
func monthOf(b []byte) (int, bool) {
	if len(b) < 3 {
		return 0, false
	}
	switch string(b[:3]) {
	case "Jan":
		return 1, true
	case "Feb":
		return 2, true
	case "Mar":
		return 3, true
	case "Apr":
		return 4, true
	case "May":
		return 5, true
	case "Jun":
		return 6, true
	case "Jul":
		return 7, true
	case "Aug":
		return 8, true
	case "Sep":
		return 9, true
	case "Oct":
		return 10, true
	case "Nov":
		return 11, true
	case "Dec":
		return 12, true
	}
	return 0, false
}

// clock reads "hh:mm:ss" at b[i:].
func clock(b []byte, i int) (h, m, s int, ok bool) {
	if i+8 > len(b) || b[i+2] != ':' || b[i+5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := num(b, i, 2)
	m, ok2 := num(b, i+3, 2)
	s, ok3 := num(b, i+6, 2)
	return h, m, s, ok1 && ok2 && ok3 && h <= 23 && m <= 59 && s <= 60
}

// parseKlog reads "Lmmdd hh:mm:ss.uuuuuu".
func parseKlog(b []byte, year int) (time.Time, bool) {
	if b[5] != ' ' {
		return time.Time{}, false
	}
	month, ok1 := num(b, 1, 2)
	day, ok2 := num(b, 3, 2)
	h, m, s, ok3 := clock(b, 6)
	if !(ok1 && ok2 && ok3) || !validClock(year, month, day, h, m, s) {
		return time.Time{}, false
	}
	nsec := 0
	if len(b) > 15 && b[14] == '.' && isDigit(b[15]) {
		nsec, _ = fraction(b, 15)
	}
	return time.Date(year, time.Month(month), day, h, m, s, nsec, time.UTC), true
}

func klogLevel(c byte) string {
	switch c {
	case 'I':
		return "info"
	case 'W':
		return "warn"
	case 'E':
		return "error"
	}
	return "fatal"
}

// parseSyslog reads "Mmm dd hh:mm:ss" (day padded with a space or not).
func parseSyslog(b []byte, year int) (time.Time, bool) {
	month, ok := monthOf(b)
	if !ok || b[3] != ' ' {
		return time.Time{}, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	for ; i < len(b) && isDigit(b[i]) && day < 100; i++ {
		day = day*10 + int(b[i]-'0')
	}
	if i >= len(b) || b[i] != ' ' {
		return time.Time{}, false
	}
	h, m, s, ok := clock(b, i+1)
	if !ok || !validClock(year, month, day, h, m, s) {
		return time.Time{}, false
	}
	nsec := 0
	if j := i + 9; j+1 < len(b) && b[j] == '.' && isDigit(b[j+1]) {
		nsec, _ = fraction(b, j+1)
	}
	return time.Date(year, time.Month(month), day, h, m, s, nsec, time.UTC), true
}

// parseApacheError reads "[Www Mmm dd hh:mm:ss[.frac] yyyy]".
func parseApacheError(b []byte) (time.Time, bool) {
	if len(b) < 26 || b[4] != ' ' || b[8] != ' ' || b[11] != ' ' {
		return time.Time{}, false
	}
	month, ok := monthOf(b[5:])
	if !ok {
		return time.Time{}, false
	}
	day := 0
	for _, c := range b[9:11] {
		if isDigit(c) {
			day = day*10 + int(c-'0')
		} else if c != ' ' {
			return time.Time{}, false
		}
	}
	h, m, s, ok := clock(b, 12)
	if !ok {
		return time.Time{}, false
	}
	i, nsec := 20, 0
	if b[i] == '.' {
		nsec, i = fraction(b, i+1)
	}
	year, ok := num(b, i+1, 4)
	if !ok || b[i] != ' ' || i+5 >= len(b) || b[i+5] != ']' || !validClock(year, month, day, h, m, s) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, h, m, s, nsec, time.UTC), true
}

// accessLogReach bounds how far into a line the access-log stamp may
// start: after a client address (IPv6 at most 39 bytes), ident and user.
const accessLogReach = 128

// parseAccessLog finds "[dd/Mmm/yyyy:hh:mm:ss +zzzz]" near the start of an
// access log line (also with a space before the clock or no zone, as
// Python's http.server writes it).
func parseAccessLog(b []byte) (time.Time, bool) {
	lim := min(len(b), accessLogReach)
	for start := 1; start < lim; {
		k := bytes.IndexByte(b[start:lim], '[')
		if k < 0 {
			return time.Time{}, false
		}
		i := start + k + 1
		start = i
		if i+21 > len(b) || b[i+2] != '/' || b[i+6] != '/' || (b[i+11] != ':' && b[i+11] != ' ') {
			continue
		}
		day, ok1 := num(b, i, 2)
		month, ok2 := monthOf(b[i+3:])
		year, ok3 := num(b, i+7, 4)
		h, m, s, ok4 := clock(b, i+12)
		if !(ok1 && ok2 && ok3 && ok4) || !validClock(year, month, day, h, m, s) {
			continue
		}
		loc := time.UTC
		j := i + 20
		if j < len(b) && b[j] == ' ' {
			if off, n, ok := parseZone(b, j+1); ok {
				if off != 0 {
					loc = time.FixedZone("", off)
				}
				j = n
			}
		}
		if j >= len(b) || b[j] != ']' {
			continue
		}
		return time.Date(year, time.Month(month), day, h, m, s, 0, loc).UTC(), true
	}
	return time.Time{}, false
}

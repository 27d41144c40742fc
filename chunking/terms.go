package chunking

import (
	"cmp"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// A term is something the question, the chat or a ticket names: an error
// string, an identifier, a status code, a pod, a word of weight, a time of
// day. Lines in other sources that name it too are what people were
// talking about.
type term struct {
	text     string  // as written (first seen); a clock as "15:04"
	weight   float64 // by kind: quoted phrases and identifiers above plain words
	question bool    // named by the question
	clock    bool    // a time of day, found in text wherever digits do not go on
	msgs     []int32 // chat messages that name it, in time order
}

// termSet collects terms, each once, and the instants people name.
type termSet struct {
	terms    []term
	index    map[string]int32 // by folded text
	instants []instant
}

// instant is a moment someone named ("burst of 7 at 12:41:34 UTC"), dated
// by what they wrote or by when they wrote it.
type instant struct {
	t    int64 // unix nanoseconds
	msg  int32 // the chat message (index into scoring.msgs), -1 for the question
	text string
	// weight grows with precision, with every other message that names the
	// same moment, and when the symptom did occur then (see
	// scoring.weighInstants).
	weight float64
	names  int // messages naming it
}

// maxTerms bounds the terms of an incident, so that a chat of thousands of
// messages does not make every line a mention.
const maxTerms = 2000

var (
	backtickRE = regexp.MustCompile("`([^`\n]{2,80})`")
	quoteRE    = regexp.MustCompile(`"([^"\n]{3,80})"`)
	clockRE    = regexp.MustCompile(`^\d{1,2}:\d{2}(:\d{2})?$|^\d{4}-\d{2}-\d{2}`)
	// A time of day, with the date before it when there is one.
	timeRE = regexp.MustCompile(`(?:\b(\d{4}-\d{2}-\d{2})[T ])?\b([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\b`)
	dateRE = regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2})\b`)
)

// add extracts the terms of text with the given weight (the question's
// count most); msg is the chat message's index, -1 for the question, -2
// for a message without a time. at is when the text was written, which
// dates the times of day it names; zero when unknown, and a capture (the
// output of a command someone ran) names no moments, only things.
func (ts *termSet) add(text string, msg int32, at time.Time, weight float64, capture bool) {
	if !capture {
		ts.times(text, msg, at)
	}
	for _, re := range []*regexp.Regexp{backtickRE, quoteRE} {
		for _, m := range re.FindAllStringSubmatch(text, 8) {
			ts.put(strings.TrimSpace(m[1]), 1.5*weight, msg)
		}
	}
	var words []string // plain words in order, for phrases
	flush := func() {
		for n := 2; n <= 3; n++ {
			for i := 0; i+n <= len(words); i++ {
				if stopword(words[i]) || stopword(words[i+n-1]) {
					continue
				}
				ts.put(strings.Join(words[i:i+n], " "), 0.8*weight, msg)
			}
		}
		words = words[:0]
	}
	for _, f := range strings.Fields(text) {
		tok := strings.TrimFunc(f, func(r rune) bool { return strings.ContainsRune("`\"'.,;:!?()[]{}<>*", r) })
		if tok == "" {
			flush()
			continue
		}
		switch {
		case identifier(tok):
			flush()
			if !clockRE.MatchString(tok) {
				ts.put(tok, weight, msg)
			}
		case plainWord(tok):
			w := strings.ToLower(tok)
			words = append(words, w)
			if len(w) >= 4 && !stopword(w) {
				ts.put(w, 0.4*weight, msg)
			}
			if tok != f {
				flush() // punctuation ends a phrase
			}
		default:
			flush()
		}
	}
	flush()
}

// times adds the times of day that text names as clock terms, and as
// instants when they can be dated: by a date written with them or
// elsewhere in the text, else by the day the text was written (the day
// before, when the time is later than the writing).
func (ts *termSet) times(text string, msg int32, at time.Time) {
	day := ""
	if m := dateRE.FindStringSubmatch(text); m != nil {
		day = m[1]
	}
	for _, m := range timeRE.FindAllStringSubmatch(text, 16) {
		hh := m[2]
		if len(hh) == 1 {
			hh = "0" + hh
		}
		clock := hh + ":" + m[3]
		i := ts.put(clock, 1, msg)
		if i >= 0 {
			ts.terms[i].clock = true
		}
		sec := m[4]
		if sec == "" {
			sec = "00"
		}
		var t time.Time
		switch date := cmp.Or(m[1], day); {
		case date != "":
			t, _ = time.Parse("2006-01-02 15:04:05", date+" "+clock+":"+sec)
		case !at.IsZero():
			at = at.UTC()
			t, _ = time.Parse("2006-01-02 15:04:05", at.Format("2006-01-02")+" "+clock+":"+sec)
			if t.After(at.Add(time.Minute)) {
				t = t.AddDate(0, 0, -1) // "yesterday 14:22", or a time past midnight
			}
		}
		if !t.IsZero() && msg != -2 {
			ts.instants = append(ts.instants, instant{t: t.UnixNano(), msg: msg, text: strings.TrimSpace(m[0])})
		}
	}
}

func (ts *termSet) put(text string, weight float64, msg int32) int32 {
	key, ok := fold(text)
	if !ok || len(key) < 2 {
		return -1
	}
	if ts.index == nil {
		ts.index = make(map[string]int32)
	}
	i, seen := ts.index[key]
	if !seen {
		if len(ts.terms) >= maxTerms {
			return -1
		}
		i = int32(len(ts.terms))
		ts.index[key] = i
		ts.terms = append(ts.terms, term{text: text})
	}
	t := &ts.terms[i]
	t.weight = max(t.weight, weight)
	if msg < 0 {
		t.question = true
	} else if n := len(t.msgs); msg >= 0 && (n == 0 || t.msgs[n-1] != msg) {
		t.msgs = append(t.msgs, msg)
	}
	return i
}

// identifier reports whether a token names a thing rather than being a
// word: a number of three digits or more (a status or exit code), a token
// with a digit, '-', '_', '.', '/' or ':' inside, or one in capitals.
func identifier(tok string) bool {
	digits, letters, upper, inner := 0, 0, 0, false
	for i, r := range tok {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case unicode.IsLetter(r):
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		case strings.ContainsRune("-_./:", r):
			inner = inner || i > 0 && i < len(tok)-1
		}
	}
	switch {
	case letters == 0:
		return digits >= 3
	case digits > 0 || inner:
		return len(tok) >= 3
	}
	return upper == letters && letters >= 2 || upper >= 2 && upper < letters // UH, OOMKilled
}

func plainWord(tok string) bool {
	for _, r := range tok {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all also am an and any are as at back be because
		been before being below between both but by can cannot could did do does doing done down during each either else
		even ever every few for from further get gets getting go goes going gone gonna got had has have having he her here
		hers him his how i if in into is it its itself just know let like looks look looking made make many maybe me might
		more most much must my need needs no nor not now of off ok okay on once one only or other our out over own per
		please probably quite rather really same see seems seen she should since so some still such than thanks that the
		their them then there these they thing think this those though through to too try tried trying under until up us
		use used using very via was we were what when where whether which while who whom why will with within without
		would yes yeah yet you your anyone someone something anything everything nothing fine nice works working work
		again already lol hmm hey hi hello guys team folks`) {
		m[w] = true
	}
	return m
}()

func stopword(w string) bool { return stopwords[w] }

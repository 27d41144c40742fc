package files

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// slackMessage is one message of a Slack export day file or of a
// conversations.history / conversations.replies response.
type slackMessage struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	Ts          string `json:"ts"`
	ThreadTs    string `json:"thread_ts"`
	User        string `json:"user"`
	Username    string `json:"username"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	UserProfile *struct {
		RealName    string `json:"real_name"`
		DisplayName string `json:"display_name"`
		Name        string `json:"name"`
	} `json:"user_profile"`
	BotProfile *struct {
		Name string `json:"name"`
	} `json:"bot_profile"`
	Attachments []struct {
		Fallback string `json:"fallback"`
		Pretext  string `json:"pretext"`
		Title    string `json:"title"`
		Text     string `json:"text"`
	} `json:"attachments"`
	Files []struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	} `json:"files"`
}

// slackUser is one entry of an export's users.json.
type slackUser struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	Profile  struct {
		RealName    string `json:"real_name"`
		DisplayName string `json:"display_name"`
	} `json:"profile"`
}

// ParseSlackUsers reads a Slack export's users.json into the id → name map
// Options.Users takes, preferring real names, as people say them in chat.
func ParseSlackUsers(data []byte) (map[string]string, error) {
	var users []slackUser
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, jsonError(data, err)
	}
	m := make(map[string]string, len(users))
	for _, u := range users {
		if name := firstNonEmpty(u.Profile.RealName, u.RealName, u.Profile.DisplayName, u.Name); u.ID != "" && name != "" {
			m[u.ID] = name
		}
	}
	return m, nil
}

// slackChannel names the channel of chat/<channel>/<day>.json, or of a
// file directly under chat/ by its own name.
func slackChannel(name string) string {
	dir := path.Base(path.Dir(name))
	if dir == "." || dir == "/" || dir == "chat" {
		base := path.Base(name)
		base = strings.TrimSuffix(base, ".gz")
		return strings.TrimSuffix(base, path.Ext(base))
	}
	return dir
}

// parseSlack reads one channel day: one line per message, "@Alice Ng: the
// gateway is returning 503 again", with mentions, channel references and
// links resolved to what Slack shows.
func parseSlack(o *out, data []byte) error {
	i := skipWS(data, 0)
	var raws []json.RawMessage
	if i < len(data) && data[i] == '{' {
		var resp struct {
			OK       *bool             `json:"ok"`
			Error    string            `json:"error"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			return err
		}
		if resp.OK != nil && !*resp.OK {
			return fmt.Errorf("slack API error: %s", firstNonEmpty(resp.Error, "unknown"))
		}
		raws = resp.Messages
	} else if err := json.Unmarshal(data, &raws); err != nil {
		return err
	}
	channel := slackChannel(o.src.Name)
	var prev time.Time
	return decodeItems(o, raws, "message", func(_ int, m *slackMessage) error {
		body := slackText(m.Text, o.opts.Users)
		for _, a := range m.Attachments {
			if att := firstNonEmpty(strings.TrimSpace(a.Pretext+" "+a.Title+" "+a.Text), a.Fallback); att != "" {
				body += " [attachment: " + slackText(att, o.opts.Users) + "]"
			}
		}
		for _, f := range m.Files {
			body += " [file: " + firstNonEmpty(f.Title, f.Name) + "]"
		}
		if strings.TrimSpace(body) == "" {
			return nil
		}
		author := slackAuthor(m, o.opts.Users)
		l := causeway.Line{Kind: causeway.LineChat, Text: "@" + author + ": " + strings.TrimSpace(body)}
		if t, ok := parseEpoch(m.Ts); ok {
			l.Time, prev = t, t
		} else {
			l.Time, l.TimeInferred = prev, true
		}
		l.Attrs = o.attrs(3)
		l.Attrs["channel"] = channel
		l.Attrs["author"] = author
		l.Attrs["thread"] = m.ThreadTs
		return o.addText(l)
	})
}

func slackAuthor(m *slackMessage, users map[string]string) string {
	var real, display, profileName, bot string
	if m.UserProfile != nil {
		real, display, profileName = m.UserProfile.RealName, m.UserProfile.DisplayName, m.UserProfile.Name
	}
	if m.BotProfile != nil {
		bot = m.BotProfile.Name
	}
	return firstNonEmpty(real, users[m.User], display, profileName, m.Username, bot, m.User, m.BotID, "unknown")
}

// slackText renders Slack's mrkdwn references as a reader sees them:
// <@U123> → @Alice, <#C1|ops> → #ops, <!here> → @here, <url|label> →
// label (url); and undoes its three HTML escapes.
func slackText(s string, users map[string]string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(s[open:], '>')
		if end < 0 {
			break
		}
		b.WriteString(s[:open])
		ref := s[open+1 : open+end]
		s = s[open+end+1:]
		target, label, hasLabel := strings.Cut(ref, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			name := firstNonEmpty(users[target[1:]], label, target[1:])
			b.WriteString("@" + strings.TrimPrefix(name, "@"))
		case strings.HasPrefix(target, "#"):
			b.WriteString("#" + firstNonEmpty(label, target[1:]))
		case strings.HasPrefix(target, "!"):
			cmd := target[1:]
			switch {
			case hasLabel:
				b.WriteString(label)
			case cmd == "here" || cmd == "channel" || cmd == "everyone":
				b.WriteString("@" + cmd)
			default:
				b.WriteString("<" + ref + ">")
			}
		default:
			link := strings.TrimPrefix(target, "mailto:")
			if hasLabel && label != link {
				b.WriteString(label + " (" + link + ")")
			} else {
				b.WriteString(link)
			}
		}
	}
	b.WriteString(s)
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
}

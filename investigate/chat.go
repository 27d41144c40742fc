package investigate

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/template"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/store"
)

// Chat limits.
const (
	MaxChatMessage = 4000 // characters of one question
	// ChatHistory is how many earlier messages a follow-up recalls.
	ChatHistory = 6
	// historyText bounds each recalled message, so that a long answer does
	// not crowd out the evidence.
	historyText = 800
)

//go:embed templates/followup.tmpl
var templateFS embed.FS

var followup = template.Must(template.ParseFS(templateFS, "templates/followup.tmpl"))

// Chat answers follow-up questions about an incident over the same packed
// context as its investigation, verified like any answer, and keeps the
// conversation. It keeps the last few packs, so that a conversation does
// not pack the incident again for every question.
type Chat struct {
	Service *Service

	mu    sync.Mutex
	packs []cachedPack // most recently used last
}

type cachedPack struct {
	incident int64
	budget   int
	lines    int64 // the incident's line count when packed: an upload makes the pack stale
	pack     *causeway.Pack
}

const packCacheSize = 4

// NewChat returns a chat over the service's incidents.
func NewChat(s *Service) *Chat { return &Chat{Service: s} }

// ChatRequest is one follow-up question.
type ChatRequest struct {
	Message string
	// InvestigationID names the investigation whose context to answer
	// over; 0 means the incident's latest finished one, and the default
	// budget when it has none.
	InvestigationID int64
	// Model is "" for the investigation's model (or the default).
	Model string
	// Asked, when set, is told the question once it is stored.
	Asked func(m *store.ChatMessage)
	// Status, when set, is told each stage: packing, asking, verifying.
	Status func(stage string)
	// Stream, when set, receives the reply text as it is generated.
	Stream func(delta string)
	// Alone asks the question without the conversation before it, for a
	// caller (the eval's control questions) whose questions must not lean
	// on each other's answers. It is still asked over the same context and
	// stored in the conversation.
	Alone bool
}

// ChatReply is a stored question and answer.
type ChatReply struct {
	Question *store.ChatMessage
	Answer   *store.ChatMessage
	Result   *prompt.Result
}

// Ask answers req.Message about inc and stores both messages. When the model
// fails, the answer is stored with the error and returned with it.
func (c *Chat) Ask(ctx context.Context, inc *causeway.Incident, req ChatRequest) (*ChatReply, error) {
	s := c.Service
	msg := strings.TrimSpace(req.Message)
	switch {
	case msg == "":
		return nil, causeway.Errorf(causeway.EINVALID, "message is empty")
	case utf8.RuneCountInString(msg) > MaxChatMessage:
		return nil, causeway.Errorf(causeway.EINVALID, "message has %d characters; at most %d", utf8.RuneCountInString(msg), MaxChatMessage)
	}
	base, err := c.baseInvestigation(ctx, inc, req.InvestigationID)
	if err != nil {
		return nil, err
	}
	budget, modelName := chunking.DefaultBudget, req.Model
	var baseID int64
	if base != nil {
		baseID, budget = base.ID, base.Budget
		if modelName == "" {
			modelName = base.Model
		}
	}
	model, err := s.Model(modelName)
	if err != nil {
		return nil, err
	}
	var history []*store.ChatMessage
	if !req.Alone {
		if history, err = s.DB.ChatMessages(ctx, inc.ID, ChatHistory); err != nil {
			return nil, err
		}
	}
	status := func(st string) {
		if req.Status != nil {
			req.Status(st)
		}
	}

	reply := &ChatReply{Question: &store.ChatMessage{IncidentID: inc.ID, InvestigationID: baseID, Role: "user", Content: msg}}
	if err := s.DB.AddChatMessage(ctx, reply.Question); err != nil {
		return nil, err
	}
	if req.Asked != nil {
		req.Asked(reply.Question)
	}
	status(causeway.StatusPacking)
	pack, err := c.pack(ctx, inc, budget)
	if err != nil {
		return reply, err
	}
	question, err := followupQuestion(history, msg)
	if err != nil {
		return reply, err
	}
	status(causeway.StatusAsking)
	staged := &stagedModel{Model: model, replied: func() { status(causeway.StatusVerifying) }}
	res, askErr := prompt.Ask(ctx, staged, pack, question, s.DB, prompt.AskOptions{Stream: req.Stream, Now: s.Now,
		Repair: prompt.Repair, Count: s.Tokenizer.Count, ContextTokens: prompt.ContextOf(model)})
	reply.Result = res
	ans := &store.ChatMessage{IncidentID: inc.ID, InvestigationID: baseID, Role: "assistant", Model: model.Name()}
	if res != nil {
		ans.Answer, ans.Verdict, ans.ContextHash, ans.Model = res.Answer, res.Verdict, res.ContextHash, res.Model
		usage := res.Usage
		ans.Usage = &usage
		switch {
		case res.Answer != nil:
			ans.Content = res.Answer.Summary
			if ans.Content == "" {
				ans.Content = res.Answer.RootCause
			}
		default:
			ans.Content = res.RawReply
		}
	}
	if askErr != nil {
		ans.Error = askErr.Error()
	}
	if err := s.DB.AddChatMessage(context.WithoutCancel(ctx), ans); err != nil {
		return reply, errors.Join(askErr, err)
	}
	reply.Answer = ans
	return reply, askErr
}

// baseInvestigation returns the investigation whose context a follow-up is
// answered over: the one named, or the incident's latest finished one (nil
// when it has none).
func (c *Chat) baseInvestigation(ctx context.Context, inc *causeway.Incident, id int64) (*causeway.Investigation, error) {
	if id != 0 {
		inv, err := c.Service.DB.Investigation(ctx, id)
		if err != nil {
			return nil, err
		}
		if inv.IncidentID != inc.ID {
			return nil, causeway.Errorf(causeway.EINVALID, "investigation %d is not of incident %d", id, inc.ID)
		}
		return inv, nil
	}
	invs, err := c.Service.DB.Investigations(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	for _, inv := range invs {
		if inv.Status == causeway.StatusDone {
			return inv, nil
		}
	}
	return nil, nil
}

// pack packs the incident as its investigation did (the packer is
// deterministic), or takes the pack from the cache.
func (c *Chat) pack(ctx context.Context, inc *causeway.Incident, budget int) (*causeway.Pack, error) {
	s := c.Service
	lines, err := s.DB.LineCount(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for i, p := range c.packs {
		if p.incident == inc.ID && p.budget == budget && p.lines == lines {
			c.packs = append(append(c.packs[:i:i], c.packs[i+1:]...), p)
			c.mu.Unlock()
			return p.pack, nil
		}
	}
	c.mu.Unlock()
	packer := chunking.NewPacker(s.Tokenizer)
	packer.Logger = s.Logger
	pack, err := packer.Pack(ctx, inc, s.DB, budget)
	if err != nil {
		return nil, err
	}
	if len(pack.Lines) == 0 {
		return nil, causeway.Errorf(causeway.EINVALID, "incident %d has no evidence lines in its window to talk about", inc.ID)
	}
	c.mu.Lock()
	c.packs = append(c.packs, cachedPack{incident: inc.ID, budget: budget, lines: lines, pack: pack})
	if len(c.packs) > packCacheSize {
		c.packs = c.packs[len(c.packs)-packCacheSize:]
	}
	c.mu.Unlock()
	return pack, nil
}

type historyTurn struct{ Role, Text string }

// followupQuestion renders the question with the conversation so far, so
// that "and why did that fill up?" can be answered; the evidence prefix
// stays the same, so providers' prompt caches still hit.
func followupQuestion(history []*store.ChatMessage, msg string) (string, error) {
	data := struct {
		History []historyTurn
		Message string
	}{Message: msg}
	for _, m := range history {
		text := m.Content
		role := "User"
		if m.Role == "assistant" {
			role = "Assistant"
			if m.Answer != nil && m.Answer.RootCause != "" {
				text = "root cause: " + m.Answer.RootCause + ". " + m.Content
			}
		}
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		if utf8.RuneCountInString(text) > historyText {
			text = string([]rune(text)[:historyText]) + "…"
		}
		data.History = append(data.History, historyTurn{Role: role, Text: text})
	}
	if len(data.History) == 0 {
		return msg, nil // nothing to follow up on: the question stands alone
	}
	var b strings.Builder
	if err := followup.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render follow-up question: %w", err)
	}
	return b.String(), nil
}

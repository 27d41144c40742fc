// Package openai is the causeway.Model for OpenAI-compatible chat completion
// endpoints (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server,
// OpenRouter, MiniMax...), built on github.com/sashabaranov/go-openai.
//
// It asks for the answer schema (or the request's own) as a strict
// json_schema response format, falls back to JSON mode and then to plain
// text on endpoints that refuse it, switches to max_completion_tokens for
// models that refuse max_tokens, retries rate limits and server errors with
// backoff, streams when asked to, and prices each reply from its table.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

// Config says which endpoint and model to use.
type Config struct {
	// BaseURL is the API base, e.g. https://api.openai.com/v1 or
	// http://localhost:8000/v1 for vLLM. For Azure OpenAI it is the
	// resource endpoint, https://RESOURCE.openai.azure.com, with APIVersion;
	// or https://RESOURCE.openai.azure.com/openai/v1 for Azure's v1 API.
	BaseURL string
	APIKey  string
	// Model is the model name; for Azure OpenAI with APIVersion, the
	// deployment name.
	Model string
	// APIVersion is Azure OpenAI's api-version query parameter, e.g.
	// 2024-10-21. Setting it selects Azure's deployment URLs
	// (/openai/deployments/MODEL/chat/completions) and the api-key header.
	APIVersion string
	// Azure sends the key in the api-key header instead of as a bearer
	// token. It is implied by APIVersion and by an Azure host name
	// (*.openai.azure.com, *.cognitiveservices.azure.com,
	// *.services.ai.azure.com).
	Azure bool
	// Headers are sent with every request, e.g. OpenRouter's HTTP-Referer
	// and X-Title.
	Headers map[string]string
	// Prices prices each reply by model name (the configured one, else the
	// one the endpoint names); a model without a price reports none.
	Prices prompt.Prices
	// ContextTokens is the model's context size; 0 means 128,000.
	ContextTokens int
	// Timeout bounds one Ask, retries included; 0 means 10 minutes.
	Timeout time.Duration
	// MaxRetries is how many times a rate-limited or failed request is
	// retried; 0 means 3, a negative value none.
	MaxRetries int
	// HTTPClient sends the requests; nil means a default client.
	HTTPClient *http.Client
	// Logger receives retries and fallbacks; nil discards them.
	Logger *slog.Logger
}

// Defaults for the zero values of Config.
const (
	DefaultContextTokens = 128_000
	DefaultTimeout       = 10 * time.Minute
	DefaultMaxRetries    = 3
)

// format is a way to ask for JSON, from the strictest to none.
type format int32

const (
	formatSchema format = iota // response_format json_schema, strict
	formatObject               // response_format json_object
	formatPlain                // no response_format: the prompt asks for JSON
)

func (f format) String() string {
	return [...]string{"json_schema", "json_object", "text"}[f]
}

// Client is a causeway.Model over an OpenAI-compatible endpoint. It is safe
// for concurrent use.
type Client struct {
	api     *goopenai.Client
	model   string
	context int
	timeout time.Duration
	logger  *slog.Logger
	retry   *retryDoer
	prices  prompt.Prices
	azure   bool
	// format is the strictest response format the endpoint accepted; once
	// it refused one, the client does not offer it again.
	format atomic.Int32
	// completionTokens is set once the endpoint refused max_tokens (OpenAI's
	// reasoning models want max_completion_tokens).
	completionTokens atomic.Bool
}

var _ causeway.Model = (*Client)(nil)

// New returns a client for cfg. It does not contact the endpoint; Check does.
func New(cfg Config) (*Client, error) {
	if cfg.Model == "" {
		return nil, causeway.Errorf(causeway.EINVALID, "model endpoint: no model name given")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, causeway.Errorf(causeway.EINVALID, "model endpoint: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	c := &Client{
		model:   cfg.Model,
		context: cfg.ContextTokens,
		timeout: cfg.Timeout,
		logger:  cfg.Logger,
		prices:  cfg.Prices,
		azure:   cfg.Azure || cfg.APIVersion != "" || azureHost(u.Hostname()),
	}
	if c.context <= 0 {
		c.context = DefaultContextTokens
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	c.retry = &retryDoer{client: hc, maxRetries: retries, logger: c.logger, sleep: sleep, header: http.Header{}}
	for k, v := range cfg.Headers {
		c.retry.header.Set(k, v)
	}

	var oc goopenai.ClientConfig
	switch {
	case cfg.APIVersion != "":
		// Azure's deployment URLs: go-openai inserts
		// /openai/deployments/MODEL itself, so the base is the resource.
		base := strings.TrimSuffix(strings.TrimRight(cfg.BaseURL, "/"), "/openai")
		oc = goopenai.DefaultAzureConfig(cfg.APIKey, base)
		oc.APIVersion = cfg.APIVersion
		// The model is the deployment's name, used as given.
		oc.AzureModelMapperFunc = func(model string) string { return model }
	case c.azure:
		// Azure's v1 API speaks OpenAI's paths but wants the key in api-key.
		oc = goopenai.DefaultConfig("")
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		if cfg.APIKey != "" {
			c.retry.header.Set(goopenai.AzureAPIKeyHeader, cfg.APIKey)
		}
	default:
		oc = goopenai.DefaultConfig(cfg.APIKey)
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	oc.HTTPClient = c.retry
	c.api = goopenai.NewClientWithConfig(oc)
	return c, nil
}

// azureHost reports whether host is an Azure OpenAI (or AI Foundry)
// endpoint, which authenticates with the api-key header.
func azureHost(host string) bool {
	host = strings.ToLower(host)
	for _, suffix := range []string{".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// Name is the model's name as configured.
func (c *Client) Name() string { return c.model }

// ContextTokens is the model's context size, for sizing the pack.
func (c *Client) ContextTokens() int { return c.context }

// Check asks the endpoint for its models and reports a wrong key, an
// unreachable endpoint or a model it does not serve. On Azure, where the
// model is a deployment that the list does not name, it checks the key.
func (c *Client) Check(ctx context.Context) error {
	list, err := c.api.ListModels(ctx)
	if err != nil {
		return c.wrap(err, "list models")
	}
	if c.azure {
		return nil
	}
	var names []string
	for _, m := range list.Models {
		if m.ID == c.model {
			return nil
		}
		names = append(names, m.ID)
	}
	return causeway.Errorf(causeway.EINVALID, "model %q is not served by the endpoint (it serves %d models: %s)",
		c.model, len(names), strings.Join(names[:min(len(names), 10)], ", "))
}

// Ask sends the conversation and returns the reply text. Endpoint failures
// are *causeway.Error with code EMODEL; a prompt longer than the model's
// context also wraps prompt.ErrContextLength.
func (c *Client) Ask(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	msgs := make([]goopenai.ChatCompletionMessage, 0, len(req.Messages))
	for _, m := range req.Messages {
		msgs = append(msgs, goopenai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	for f := format(c.format.Load()); ; {
		creq := goopenai.ChatCompletionRequest{
			Model:          c.model,
			Messages:       msgs,
			ResponseFormat: responseFormat(f, req),
		}
		if c.completionTokens.Load() {
			creq.MaxCompletionTokens = req.MaxTokens
		} else {
			//lint:ignore SA1019 max_tokens is the field every OpenAI-compatible server reads; max_completion_tokens is newer and not universal
			creq.MaxTokens = req.MaxTokens
		}
		var (
			reply *causeway.ModelReply
			err   error
		)
		if req.Stream != nil {
			reply, err = c.stream(ctx, creq, req.Stream)
		} else {
			reply, err = c.complete(ctx, creq)
		}
		if err == nil {
			c.price(reply)
			return reply, nil
		}
		if req.MaxTokens > 0 && !c.completionTokens.Load() && refusesMaxTokens(err) {
			c.completionTokens.Store(true)
			c.logger.InfoContext(ctx, "model endpoint refused max_tokens; sending max_completion_tokens", "model", c.model)
			continue
		}
		if f < formatPlain && refusesFormat(err) {
			// Remember the refusal so that later questions do not pay
			// for it again; CompareAndSwap keeps a concurrent Ask's later
			// fallback from being undone.
			c.format.CompareAndSwap(int32(f), int32(f+1))
			c.logger.InfoContext(ctx, "model endpoint refused response format; falling back",
				"model", c.model, "refused", f.String(), "next", (f + 1).String())
			f++
			continue
		}
		return nil, c.wrap(err, "chat completion")
	}
}

// price sets the reply's cost from the price table.
func (c *Client) price(reply *causeway.ModelReply) {
	cost, ok := c.prices.Cost(c.model, reply.Usage)
	if !ok && reply.Model != "" {
		cost, ok = c.prices.Cost(reply.Model, reply.Usage)
	}
	reply.Usage.CostUSD, reply.Usage.Priced = cost, ok
}

func responseFormat(f format, req causeway.ModelRequest) *goopenai.ChatCompletionResponseFormat {
	switch f {
	case formatSchema:
		name, schema := prompt.AnswerSchemaName, json.RawMessage(prompt.AnswerSchema())
		if len(req.Schema) > 0 {
			name, schema = req.SchemaName, json.RawMessage(req.Schema)
			if name == "" {
				name = "reply"
			}
		}
		return &goopenai.ChatCompletionResponseFormat{
			Type: goopenai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &goopenai.ChatCompletionResponseFormatJSONSchema{
				Name:   name,
				Schema: schema,
				Strict: true,
			},
		}
	case formatObject:
		return &goopenai.ChatCompletionResponseFormat{Type: goopenai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return nil
}

func (c *Client) complete(ctx context.Context, creq goopenai.ChatCompletionRequest) (*causeway.ModelReply, error) {
	resp, err := c.api.CreateChatCompletion(ctx, creq)
	if err != nil {
		return nil, err
	}
	if len(resp.Choices) == 0 {
		return nil, errors.New("reply has no choices")
	}
	return &causeway.ModelReply{
		Text:         resp.Choices[0].Message.Content,
		Model:        resp.Model,
		Usage:        usage(&resp.Usage),
		FinishReason: string(resp.Choices[0].FinishReason),
	}, nil
}

func (c *Client) stream(ctx context.Context, creq goopenai.ChatCompletionRequest, deliver func(string)) (*causeway.ModelReply, error) {
	creq.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	s, err := c.api.CreateChatCompletionStream(ctx, creq)
	if err != nil {
		return nil, err
	}
	defer s.Close()

	reply := &causeway.ModelReply{}
	var text strings.Builder
	finished := false
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &truncatedError{partial: text.String(), err: err}
		}
		if chunk.Model != "" {
			reply.Model = chunk.Model
		}
		if chunk.Usage != nil {
			reply.Usage = usage(chunk.Usage)
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			if d := ch.Delta.Content; d != "" {
				text.WriteString(d)
				deliver(d)
			}
			if ch.FinishReason != "" {
				finished = true
				reply.FinishReason = string(ch.FinishReason)
			}
		}
	}
	// go-openai reports a stream that ends without [DONE] as a clean EOF;
	// only the missing finish_reason tells a cut-off reply from a whole one.
	if !finished {
		return nil, &truncatedError{partial: text.String(), err: io.ErrUnexpectedEOF}
	}
	reply.Text = text.String()
	return reply, nil
}

// truncatedError is a stream that ended before the reply was complete.
type truncatedError struct {
	partial string
	err     error
}

func (e *truncatedError) Error() string {
	return fmt.Sprintf("stream ended after %d bytes, before the reply was complete: %v", len(e.partial), e.err)
}

func (e *truncatedError) Unwrap() error { return e.err }

func usage(u *goopenai.Usage) causeway.Usage {
	out := causeway.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return out
}

// refusesFormat reports whether err is an endpoint refusing the requested
// response_format (HTTP 400 naming it), as opposed to any other bad request.
func refusesFormat(err error) bool {
	var apiErr *goopenai.APIError
	if errors.As(err, &apiErr) && apiErr.HTTPStatusCode == http.StatusBadRequest {
		if apiErr.Param != nil && mentionsFormat(*apiErr.Param) {
			return true
		}
		if code, ok := apiErr.Code.(string); ok && mentionsFormat(code) {
			return true
		}
		return mentionsFormat(apiErr.Message)
	}
	var reqErr *goopenai.RequestError
	if errors.As(err, &reqErr) && reqErr.HTTPStatusCode == http.StatusBadRequest {
		return mentionsFormat(string(reqErr.Body))
	}
	return false
}

// refusesMaxTokens reports whether err is an endpoint refusing max_tokens
// and asking for max_completion_tokens, as OpenAI's reasoning models do.
func refusesMaxTokens(err error) bool {
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusBadRequest {
		return false
	}
	if apiErr.Param != nil && *apiErr.Param == "max_tokens" {
		return true
	}
	return strings.Contains(apiErr.Message, "max_completion_tokens")
}

func mentionsFormat(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "response_format") || strings.Contains(s, "json_schema") ||
		strings.Contains(s, "response format") || strings.Contains(s, "json_object")
}

// contextTooLong reports whether a 400 says the prompt exceeds the model's
// context, in the words of OpenAI, vLLM and llama.cpp.
func contextTooLong(apiErr *goopenai.APIError) bool {
	if apiErr.HTTPStatusCode != http.StatusBadRequest && apiErr.HTTPStatusCode != http.StatusRequestEntityTooLarge {
		return false
	}
	if code, ok := apiErr.Code.(string); ok && code == "context_length_exceeded" {
		return true
	}
	if apiErr.Type == "exceed_context_size_error" {
		return true
	}
	msg := strings.ToLower(apiErr.Message)
	return strings.Contains(msg, "maximum context length") || strings.Contains(msg, "context length") ||
		strings.Contains(msg, "context size") || strings.Contains(msg, "context window")
}

var (
	contextLimitRE = regexp.MustCompile(`(?i)maximum context length is (\d+)`)
	contextSentRE  = regexp.MustCompile(`(?i)(?:resulted in|requested|request has|has) (\d+)(?: input)? tokens`)
)

// contextLengthError reads the numbers of a context-length refusal, in the
// words of OpenAI ("maximum context length is 128000 tokens. However, your
// messages resulted in 130321 tokens") and vLLM ("... you requested 9000
// tokens").
func contextLengthError(msg string) *prompt.ContextLengthError {
	e := &prompt.ContextLengthError{}
	if m := contextLimitRE.FindStringSubmatch(msg); m != nil {
		e.Limit, _ = strconv.Atoi(m[1])
	}
	if m := contextSentRE.FindStringSubmatch(msg); m != nil {
		e.Sent, _ = strconv.Atoi(m[1])
	}
	return e
}

// StatusCode returns the HTTP status of the endpoint's error in err's chain,
// 0 when there is none.
func StatusCode(err error) int {
	var apiErr *goopenai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	var reqErr *goopenai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode
	}
	return 0
}

// wrap turns an endpoint failure into a *causeway.Error with code EMODEL
// and a message that says what to fix.
func (c *Client) wrap(err error, op string) error {
	status := StatusCode(err)
	var (
		msg    string
		apiErr *goopenai.APIError
		trunc  *truncatedError
	)
	switch {
	case errors.Is(err, context.Canceled):
		msg = "the model request was canceled"
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("the model did not answer within %s", c.timeout)
	case errors.As(err, &trunc):
		msg = fmt.Sprintf("the model's reply stream from %s was cut off", c.model)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		msg = fmt.Sprintf("the model endpoint refused the API key (status %d); check CAUSEWAY_MODEL_API_KEY", status)
	case status == http.StatusNotFound:
		msg = fmt.Sprintf("the model endpoint does not serve model %q or the base URL is wrong (status 404); check CAUSEWAY_MODEL and CAUSEWAY_MODEL_BASE_URL", c.model)
	case errors.As(err, &apiErr) && contextTooLong(apiErr):
		msg = fmt.Sprintf("the prompt is longer than model %q's context (status %d)", c.model, status)
		err = fmt.Errorf("%w: %w", contextLengthError(apiErr.Message), err)
	case status == http.StatusTooManyRequests:
		msg = fmt.Sprintf("the model endpoint is rate limiting (status 429) after %d retries", c.retry.maxRetries)
	case status >= 500:
		msg = fmt.Sprintf("the model endpoint failed (status %d) after %d retries", status, c.retry.maxRetries)
	case status != 0:
		msg = fmt.Sprintf("the model endpoint rejected the request (status %d)", status)
	default:
		msg = "the model endpoint could not be reached or replied with garbage"
	}
	return &causeway.Error{Code: causeway.EMODEL, Message: msg, Err: fmt.Errorf("%s %s: %w", op, c.model, err)}
}

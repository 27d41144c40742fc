package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/prompt/builtin"
	"github.com/causeway-rca/causeway/prompt/openai"
)

// modelSet resolves model names: "builtin" is the deterministic analyzer;
// any other name is served by the OpenAI-compatible endpoint at
// CAUSEWAY_MODEL_BASE_URL. The default is CAUSEWAY_MODEL at that endpoint
// when one is configured, else builtin. docs/models.md documents every
// variable read here.
type modelSet struct {
	builtin causeway.Model
	cfg     openai.Config // zero BaseURL: no endpoint configured

	mu     sync.Mutex
	remote map[string]causeway.Model
}

func (m *Main) models() (*modelSet, error) {
	set := &modelSet{builtin: builtin.New(), remote: map[string]causeway.Model{}}
	set.cfg = openai.Config{
		BaseURL: m.Getenv("CAUSEWAY_MODEL_BASE_URL"),
		APIKey:  m.Getenv("CAUSEWAY_MODEL_API_KEY"),
		Model:   m.Getenv("CAUSEWAY_MODEL"),
	}
	if v := m.Getenv("CAUSEWAY_MODEL_CONTEXT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("CAUSEWAY_MODEL_CONTEXT=%q is not a positive number of tokens", v)
		}
		set.cfg.ContextTokens = n
	}
	if set.cfg.BaseURL != "" && set.cfg.Model == "" {
		return nil, fmt.Errorf("CAUSEWAY_MODEL_BASE_URL is set but CAUSEWAY_MODEL (the model name) is not")
	}
	set.cfg.APIVersion = m.Getenv("CAUSEWAY_MODEL_API_VERSION")
	if v := m.Getenv("CAUSEWAY_MODEL_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("CAUSEWAY_MODEL_TIMEOUT=%q is not a positive duration such as 10m", v)
		}
		set.cfg.Timeout = d
	}
	if v := m.Getenv("CAUSEWAY_MODEL_HEADERS"); v != "" {
		set.cfg.Headers = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("CAUSEWAY_MODEL_HEADERS=%q: want NAME=VALUE[,NAME=VALUE]", v)
			}
			set.cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
	}
	set.cfg.Prices = prompt.Prices{}
	if file := m.Getenv("CAUSEWAY_MODEL_PRICES"); file != "" {
		p, err := prompt.ReadPrices(file)
		if err != nil {
			return nil, fmt.Errorf("CAUSEWAY_MODEL_PRICES: %w", err)
		}
		set.cfg.Prices = p
	}
	if v := m.Getenv("CAUSEWAY_MODEL_PRICE"); v != "" {
		if set.cfg.Model == "" {
			return nil, fmt.Errorf("CAUSEWAY_MODEL_PRICE is set but CAUSEWAY_MODEL (the model it prices) is not")
		}
		p, err := prompt.ParsePrice(v)
		if err != nil {
			return nil, fmt.Errorf("CAUSEWAY_MODEL_PRICE: %w", err)
		}
		set.cfg.Prices[set.cfg.Model] = p
	}
	return set, nil
}

// Get returns the named model; "" is the default.
func (s *modelSet) Get(name string) (causeway.Model, error) {
	if name == "" {
		name = s.cfg.Model
	}
	if name == "" || name == "builtin" {
		return s.builtin, nil
	}
	if s.cfg.BaseURL == "" {
		return nil, causeway.Errorf(causeway.EINVALID, "model %q needs an endpoint: set CAUSEWAY_MODEL_BASE_URL (or use --model builtin)", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.remote[name]; ok {
		return m, nil
	}
	cfg := s.cfg
	cfg.Model = name
	c, err := openai.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	s.remote[name] = c
	return c, nil
}

// ContextTokens returns the context size of the named model, 0 when it is
// unknown or unbounded.
func (s *modelSet) ContextTokens(name string) int {
	m, err := s.Get(name)
	if err != nil {
		return 0
	}
	if c, ok := m.(interface{ ContextTokens() int }); ok {
		return c.ContextTokens()
	}
	return 0
}

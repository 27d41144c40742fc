package main

import (
	"flag"
	"io"
	"strconv"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
)

// scopeCollectors gives the server's workers a collector for every live
// source type an investigation's inline scope may name. Each is configured
// as `causeway collect` would be with the scope's selections as flags, and
// the rest (URLs, tokens, kubeconfig) from the environment, so that the
// command line and the API collect alike.
func (m *Main) scopeCollectors() investigate.Collectors {
	cs := investigate.Collectors{}
	for _, typ := range investigate.SourceTypes {
		kind, ok := collectKinds[typ]
		if !ok {
			continue
		}
		cs[typ] = func(src investigate.ScopeSource) (causeway.Collector, error) {
			fs := flag.NewFlagSet(typ, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			build := kind.flags(m, fs)
			if err := fs.Parse(scopeArgs(src)); err != nil {
				return nil, causeway.Errorf(causeway.EINVALID, "scope source %s: %v", src.SourceName(), err)
			}
			return build()
		}
	}
	return cs
}

// scopeArgs turns a scope source's selections into the flags of its
// collector.
func scopeArgs(src investigate.ScopeSource) []string {
	var args []string
	add := func(flag string, vals ...string) {
		for _, v := range vals {
			if v != "" {
				args = append(args, "--"+flag, v)
			}
		}
	}
	switch src.Type {
	case "k8s":
		add("namespace", src.Namespaces...)
	case "prometheus":
		add("namespace", src.Namespaces...)
		for i, q := range src.Queries {
			add("query", "q"+strconv.Itoa(i+1)+"="+q)
		}
	case "loki":
		add("namespace", src.Namespaces...)
		add("query", src.Queries...)
		if src.Selector != "" && len(src.Queries) == 0 {
			add("query", src.Selector)
		}
	case "slack":
		add("channel", src.Channels...)
	case "jira":
		add("issue", src.Issues...)
		add("jql", src.JQL)
	}
	return args
}

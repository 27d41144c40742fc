package builtin_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/prompt/builtin"
)

// base is the time the synthetic incidents start from.
var base = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)

// ln is one line of a synthetic pack: minutes after base, source, text and
// optional attributes ("namespace=x", "pod=y").
type ln struct {
	min   float64
	src   string
	text  string
	attrs []string
}

// kindOf gives each source of the synthetic packs its kinds, by folder as
// the bundle format does.
func kindOf(src string) (causeway.LineKind, causeway.SourceKind) {
	switch {
	case strings.HasPrefix(src, "chat/"):
		return causeway.LineChat, causeway.KindSlack
	case strings.HasPrefix(src, "tickets/"):
		return causeway.LineComment, causeway.KindJira
	case strings.HasPrefix(src, "docs/"):
		return causeway.LineDoc, causeway.KindDoc
	case strings.HasPrefix(src, "events/"):
		return causeway.LineEvent, causeway.KindEvents
	case strings.HasPrefix(src, "objects/"):
		return causeway.LineCondition, causeway.KindObjects
	case strings.HasPrefix(src, "mesh/"):
		return causeway.LineStatus, causeway.KindMeshAdmin
	case strings.HasPrefix(src, "metrics/"):
		return causeway.LineMetric, causeway.KindPrometheus
	}
	return causeway.LineLog, causeway.KindLog
}

// mkPack lays lines out as the packer does: grouped by source in order of
// first appearance, in time order within a source, numbered in that order.
func mkPack(lines ...ln) *causeway.Pack {
	var order []string
	bySrc := map[string][]ln{}
	for _, l := range lines {
		if _, ok := bySrc[l.src]; !ok {
			order = append(order, l.src)
		}
		bySrc[l.src] = append(bySrc[l.src], l)
	}
	p := &causeway.Pack{IncidentID: 1, Budget: 100000}
	for _, src := range order {
		ls := bySrc[src]
		slices.SortStableFunc(ls, func(a, b ln) int {
			switch {
			case a.min < b.min:
				return -1
			case a.min > b.min:
				return 1
			}
			return 0
		})
		lineKind, srcKind := kindOf(src)
		for i, l := range ls {
			attrs := map[string]string{}
			for _, kv := range l.attrs {
				k, v, _ := strings.Cut(kv, "=")
				attrs[k] = v
			}
			p.Lines = append(p.Lines, causeway.Line{
				IncidentID: 1, Source: src, Num: int64(len(p.Lines) + 1), Seq: int64(i), Kind: lineKind,
				Time: base.Add(time.Duration(l.min * float64(time.Minute))), Text: l.text, Attrs: attrs,
			})
		}
		p.Sources = append(p.Sources, causeway.PackSource{Name: src, Kind: srcKind, Lines: len(ls), Total: int64(len(ls))})
	}
	p.Total = int64(len(p.Lines))
	return p
}

const (
	gw    = "logs/envoy-gateway.log"
	proxy = "logs/envoy-proxy.log"
	node  = "logs/node-df.txt"
	objs  = "objects/policies.json"
	evts  = "events/events.json"
	chat  = "chat/incident.json"
)

var gwNS = []string{"namespace=envoy-gateway-system", "pod=envoy-gateway-5d8f9c7b6-x2x9k"}
var proxyNS = []string{"namespace=envoy-gateway-system", "pod=envoy-aibrix-system-aibrix-eg-903790dc-7c8dd7d4b9-64w68"}

// diskFullCascade is the seed's failure in miniature: the disk fills, the
// gateway controller cannot create its cache, a policy goes Accepted=False,
// its route is dropped and requests that need it get 503 no healthy
// upstream; with noise, a wrong guess in chat, a harmless deprecation
// warning, and the disk-full line logged after the first 503 as in the
// original incident.
func diskFullCascade() []ln {
	ls := []ln{
		{0, gw, `2025-08-21T03:00:00.000Z INFO provider watching resources {"runner": "provider"}`, gwNS},
		{5, gw, `2025-08-21T03:05:00.000Z INFO gateway-api reconciling {"runner": "gateway-api"}`, gwNS},
		{22.8, gw, `2025-08-21T03:22:49.283Z ERROR xds-translator failed to translate xds ir {"runner": "xds-translator", "error": "invalid RouteConfiguration.VirtualHosts[0]: embedded message failed validation"}`, gwNS},
		{49.25, gw, `2025-08-21T03:49:15.867Z ERROR gateway-api Failed to create Wasm cache directory {"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"}`, gwNS},
		{50, gw, `2025-08-21T03:50:00.000Z INFO gateway-api reconciling {"runner": "gateway-api"}`, gwNS},
		{22.9, objs, `EnvoyExtensionPolicy aibrix-system/aibrix-gateway-plugins-extension-policy condition Accepted=False reason=Invalid message="Wasm: wasm cache is not initialized."`, []string{"namespace=aibrix-system"}},
		{23, objs, `HTTPRoute aibrix-system/llama2-7b-router condition Accepted=True reason=Accepted message="Route is accepted"`, []string{"namespace=aibrix-system"}},
		{55, node, `/dev/sda1        59G   59G     0 100% /`, nil},
		{55, node, `Filesystem      Size  Used Avail Use% Mounted on`, nil},
		{10, evts, `Normal Scheduled pod/llama2-7b-6c4f6b7d9-abcde Successfully assigned aibrix-system/llama2-7b-6c4f6b7d9-abcde`, []string{"namespace=aibrix-system"}},
		{30, chat, `bob: maybe the HTTPRoute precedence is wrong? the header match looks odd`, nil},
		{40, chat, `alice: requests with routing-strategy header get 503 no healthy upstream, without it they work`, nil},
		{1, proxy, `[2025-08-21 03:01:00.000][1][warning][misc] Deprecated field: type envoy.config.route.v3.HeaderMatcher Using deprecated option 'envoy.config.route.v3.HeaderMatcher.exact_match'`, proxyNS},
	}
	for i := range 6 {
		m := 1 + float64(i)*3
		ls = append(ls, ln{m, proxy, fmt.Sprintf(`{"start_time":"2025-08-21T03:%02d:00.000Z","method":"POST","response_code":200,"response_code_details":"via_upstream","response_flags":"-","route_name":"httproute/aibrix-system/llama2-7b-router/rule/0/match/1/*","x-request-id":"ok-%d"}`, int(m), i), proxyNS})
	}
	for i := range 20 {
		m := 23.3 + float64(i)*1.5
		ls = append(ls, ln{m, proxy, fmt.Sprintf(`{"start_time":"2025-08-21T03:%02d:19.513Z","method":"POST","response_code":503,"response_code_details":"no_healthy_upstream","response_flags":"UH","route_name":"original_route","upstream_cluster":"original_destination_cluster","x-request-id":"fail-%d"}`, int(m), i), proxyNS})
	}
	return ls
}

// oomDecoy is an OOM kill of an unrelated batch pod hours before.
func oomDecoy() []ln {
	batch := []string{"namespace=analytics", "pod=batch-etl-28491-7xk2p"}
	return []ln{
		{-300, evts, `Warning OOMKilling node/worker-3 Memory cgroup out of memory: Killed process 4121 (python) in pod analytics/batch-etl-28491-7xk2p`, batch},
		{-299.5, "objects/pods.json", `Pod analytics/batch-etl-28491-7xk2p container etl lastState terminated reason=OOMKilled exitCode=137 restartCount=1`, batch},
	}
}

// hpaScaleDown is seed 001 in miniature: a nightly ETL job loads the API,
// the autoscaler scales it up and, when the load is gone, down; the pods it
// removes get 15 s to finish requests that take 40 s, and the gateway
// answers 502 for the requests they drop. An OOM kill in the same namespace
// hours before is the control question's decoy.
func hpaScaleDown() []ln {
	api := func(pod string) []string { return []string{"namespace=api", "pod=" + pod} }
	gwAttrs := []string{"namespace=api"}
	ls := []ln{
		{-180, evts, `Warning OOMKilling node/worker-2 (ns api): Memory cgroup out of memory: Killed process 77 (java) in pod api/report-worker-5c9d8f7b4-q8zkm`, api("report-worker-5c9d8f7b4-q8zkm")},
		{0, evts, `Normal SuccessfulCreate cronjob/nightly-etl (ns api): Created job nightly-etl-28491`, []string{"namespace=api", "name=nightly-etl", "kind=CronJob"}},
		{2, evts, `Normal SuccessfulRescale horizontalpodautoscaler/api (ns api): New size: 8; reason: cpu resource utilization (percentage of request) above target`, []string{"namespace=api", "name=api", "kind=HorizontalPodAutoscaler"}},
		{40, evts, `Normal SuccessfulRescale horizontalpodautoscaler/api (ns api): New size: 3; reason: All metrics below target`, []string{"namespace=api", "name=api", "kind=HorizontalPodAutoscaler"}},
		{0, "objects/deployments.json", `Deployment api/api spec.template.spec.terminationGracePeriodSeconds: 15`, []string{"namespace=api", "name=api", "kind=Deployment"}},
		{10, "logs/api.log", `2025-08-21T03:10:00Z INFO request completed path=/api/export status=200 duration=38s`, api("api-7d9f8b6c5-x2x9k")},
		{20, "logs/api.log", `2025-08-21T03:20:00Z INFO request completed path=/api/export status=200 duration=44s`, api("api-7d9f8b6c5-x2x9k")},
		{40.1, "logs/api.log", `2025-08-21T03:40:06Z INFO received SIGTERM, draining 4 in-flight requests`, api("api-7d9f8b6c5-x2x9k")},
		{40.35, "logs/api.log", `2025-08-21T03:40:21Z ERROR graceful shutdown timed out after 15s, 3 requests still in flight`, api("api-7d9f8b6c5-x2x9k")},
		{40.1, "logs/api-2.log", `2025-08-21T03:40:06Z INFO received SIGTERM, draining 2 in-flight requests`, api("api-7d9f8b6c5-r4t6p")},
		{35, chat, `carol: 502s again on /api/export, is it the gateway?`, nil},
	}
	for i := range 10 {
		m := 1 + float64(i)*3
		ls = append(ls, ln{m, "logs/gateway.log", fmt.Sprintf(`10.0.0.7 - - [21/Aug/2025:03:%02d:00 +0000] "GET /api/items HTTP/1.1" 200 512`, int(m)), gwAttrs})
	}
	for i := range 5 {
		m := 40.4 + float64(i)*0.1
		ls = append(ls,
			ln{m, "logs/gateway-error.log", fmt.Sprintf(`2025/08/21 03:40:%02d [error] 7#7: *%d upstream prematurely closed connection while reading response header from upstream, request: "GET /api/export HTTP/1.1"`, 24+i*6, 100+i), gwAttrs},
			ln{m, "logs/gateway.log", fmt.Sprintf(`10.0.0.%d - - [21/Aug/2025:03:40:%02d +0000] "GET /api/export HTTP/1.1" 502 157`, 7+i, 24+i*6), gwAttrs})
	}
	return ls
}

// dbOOMPropagation is a failure that propagates across components: the
// database pod is OOM-killed, the API that talks to it cannot connect, and
// the gateway returns 502; a search indexer restarted two hours before.
func dbOOMPropagation() []ln {
	shop := func(pod string) []string { return []string{"namespace=shop", "pod=" + pod} }
	ls := []ln{
		{-120, "objects/pods.json", `Pod shop/search-indexer-6d5f8c7b9-w2kx7 container indexer restartCount=1 lastState terminated reason=Error exitCode=1`, shop("search-indexer-6d5f8c7b9-w2kx7")},
		{10, evts, `Warning OOMKilling node/w1: Memory cgroup out of memory: Killed process 412 (postgres) in pod shop/payments-db-0`, shop("payments-db-0")},
		{0, "logs/payments-db.log", `2025-08-21 03:00:00.000 UTC [1] LOG:  database system is ready to accept connections`, shop("payments-db-0")},
	}
	for i := range 6 {
		m := 10.2 + float64(i)*0.2
		ls = append(ls, ln{m, "logs/payments-api.log", fmt.Sprintf(`2025-08-21T03:10:%02dZ ERROR charge failed: dial tcp payments-db:5432: connect: connection refused`, 12+i*12), shop("payments-api-7c8d9f6b5-kq2wz")})
		ls = append(ls, ln{m + 0.05, "logs/gateway.log", fmt.Sprintf(`10.0.0.7 - - [21/Aug/2025:03:10:%02d +0000] "POST /api/pay HTTP/1.1" 502 0`, 15+i*12), []string{"namespace=shop"}})
	}
	return ls
}

// certExpiryStorm is an expired mesh certificate behind 503s, with a storm
// of worker panics that starts after the 503s did: an ERROR storm that
// follows the cause rather than precedes it.
func certExpiryStorm() []ln {
	ls := []ln{
		{9, "logs/istiod.log", `2025-08-21T03:09:00Z error	x509: certificate has expired or is not yet valid: current time 2025-08-21T03:09:00Z is after 2025-08-21T03:00:00Z`, []string{"namespace=istio-system", "pod=istiod-5f4d8c7b9-tk2xz"}},
	}
	for i := range 10 {
		ls = append(ls, ln{10 + float64(i)*0.5, "logs/ingress.log",
			fmt.Sprintf(`[2025-08-21T03:%02d:00.000Z] "GET /shop HTTP/1.1" 503 UF upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS error: CERTIFICATE_VERIFY_FAILED`, 10+i/2),
			[]string{"namespace=shop", "pod=istio-ingressgateway-7b9c5d8f4-m2x4q"}})
	}
	for i := range 200 {
		ls = append(ls, ln{12 + float64(i)*0.04, "logs/worker.log", fmt.Sprintf(`2025-08-21T03:12:%02dZ ERROR panic: runtime error: index out of range [%d] with length 3`, i%60, 3+i%5),
			[]string{"namespace=shop", "pod=recommendation-worker-5d6f7c8b9-j4k6l"}})
	}
	return ls
}

// analyze asks the builtin model through its Ask, as the pipeline does,
// and checks what every answer must satisfy: it parses, every citation
// verifies, and every chain step cites exactly one line.
func analyze(t *testing.T, pack *causeway.Pack, question string) *causeway.Answer {
	t.Helper()
	reply, err := builtin.New().Ask(context.Background(), causeway.ModelRequest{Pack: pack, Question: question, Messages: prompt.Build(pack, question)})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := prompt.ParseAnswer(reply.Text)
	if err != nil {
		t.Fatalf("builtin reply does not parse: %v", err)
	}
	v, err := prompt.Verify(context.Background(), ans, pack, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Citations {
		if c.Status != causeway.CitationVerified {
			t.Errorf("citation %s at %s is %s: %q", c.ID, c.Where, c.Status, c.Quote)
		}
	}
	for i, s := range ans.CausalChain {
		if len(s.Citations) != 1 {
			t.Errorf("chain step %d has %d citations, want one", i+1, len(s.Citations))
		}
	}
	return ans
}

// lineText returns the text of the line a citation names.
func lineText(pack *causeway.Pack, c causeway.Citation) string {
	n, _ := causeway.ParseLineID(c.ID)
	for _, l := range pack.Lines {
		if l.Num == n {
			return l.Text
		}
	}
	return ""
}

func chainTexts(pack *causeway.Pack, a *causeway.Answer) []string {
	var out []string
	for _, s := range a.CausalChain {
		out = append(out, lineText(pack, s.Citations[0]))
	}
	return out
}

// cites reports whether any of the citations names a line that contains s.
func cites(pack *causeway.Pack, cs []causeway.Citation, s string) bool {
	for _, c := range cs {
		if strings.Contains(lineText(pack, c), s) {
			return true
		}
	}
	return false
}

package files

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// benchLog generates n log lines in the mix a pod log bundle has: zap
// console lines, JSON lines, klog, log4j and stack-trace continuations.
func benchLog(n int) []byte {
	var b bytes.Buffer
	t := time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)
	for i := range n {
		t = t.Add(17 * time.Millisecond)
		switch i % 8 {
		case 0, 1, 2:
			fmt.Fprintf(&b, "%s\tINFO\tgateway-api\trunner/runner.go:97\treceived an update\t{\"runner\": \"gateway-api\", \"seq\": %d}\n", t.Format(time.RFC3339Nano), i)
		case 3:
			fmt.Fprintf(&b, `{"level":"info","ts":%d.%06d,"caller":"gateway/gateway.go:212","msg":"routing request","request_id":"req-%d","model":"llama2-7b"}`+"\n", t.Unix(), t.Nanosecond()/1000, i)
		case 4:
			fmt.Fprintf(&b, "I0821 %s       1 cache.go:301] metrics refreshed for %d pods\n", t.Format("15:04:05.000000"), i%7)
		case 5:
			fmt.Fprintf(&b, "%s ERROR [pool-3-thread-%d] c.e.Gateway - upstream reset before headers\n", t.Format("2006-01-02 15:04:05,000"), i%16)
		case 6:
			b.WriteString("\tat com.example.gateway.Upstream.connect(Upstream.java:214)\n")
		case 7:
			fmt.Fprintf(&b, `10.244.0.%d - - [%s] "POST /v1/chat/completions HTTP/1.1" 200 302 "-" "curl/8.7.1"`+"\n", i%250, t.Format("02/Jan/2006:15:04:05 -0700"))
		}
	}
	return b.Bytes()
}

// BenchmarkParseLog measures log parsing throughput in lines per second,
// labels included, with a sink that keeps nothing.
func BenchmarkParseLog(b *testing.B) {
	const n = 100_000
	data := benchLog(n)
	src := causeway.Source{Name: "logs/bench.log", Kind: causeway.KindPodLog,
		Labels: map[string]string{"namespace": "envoy-gateway-system", "pod": "envoy-gateway-7f9c8d6b5-x2k4p"}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	var lines int64
	for b.Loop() {
		stats, err := Parse(context.Background(), src, bytes.NewReader(data), Options{Year: 2025},
			func(causeway.Line) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		lines += stats.Lines
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

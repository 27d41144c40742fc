package k8s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
	"k8s.io/client-go/rest"
)

// portForwardProtocol is the WebSocket subprotocol of the API server's
// pods/portforward subresource that the kubelet (and containerd's CRI
// streaming server) speak: binary messages whose first byte names the
// channel, channel 0 carrying the port's data and channel 1 its errors,
// each channel's first message being the port number (uint16, little
// endian). The official Python and JavaScript clients use it too.
const portForwardProtocol = "v4.channel.k8s.io"

// PortForwarder opens connections to a port of a pod through the
// Kubernetes API, as `kubectl port-forward` does, one WebSocket per
// connection, with the cluster's credentials (token, client certificate
// or exec plugin, as in the kubeconfig). It needs RBAC `create` (and, for
// WebSocket upgrades on recent API servers, `get`) on pods/portforward.
//
// kubectl itself speaks SPDY, which client-go implements with a module
// (moby/spdystream) Causeway does not depend on; the WebSocket protocol
// reaches the same kubelet code.
type PortForwarder struct {
	base    *url.URL // the API server, with any path prefix
	tls     *tls.Config
	headers func(req *http.Request) (http.Header, error)
	dialer  net.Dialer
}

// NewPortForwarder returns a PortForwarder for the cluster rc points at.
func NewPortForwarder(rc *rest.Config) (*PortForwarder, error) {
	base, _, err := rest.DefaultServerUrlFor(rc)
	if err != nil {
		return nil, fmt.Errorf("port-forward: server URL: %w", err)
	}
	p := &PortForwarder{base: base}
	if base.Scheme == "https" {
		tc, err := rest.TLSConfigFor(rc)
		if err != nil {
			return nil, fmt.Errorf("port-forward: TLS config: %w", err)
		}
		if tc == nil {
			tc = &tls.Config{}
		}
		// A WebSocket upgrade is HTTP/1.1; offering h2 would have the
		// server pick it.
		tc.NextProtos = []string{"http/1.1"}
		if tc.ServerName == "" {
			tc.ServerName = base.Hostname()
		}
		p.tls = tc
	}
	// The credentials are whatever client-go's own wrappers put on a
	// request (bearer token, basic auth, exec plugin, impersonation), read
	// off a request they wrap rather than reimplemented here.
	auth, err := rest.HTTPWrappersForConfig(rc, headerCapture{})
	if err != nil {
		return nil, fmt.Errorf("port-forward: credentials: %w", err)
	}
	p.headers = func(req *http.Request) (http.Header, error) {
		resp, err := auth.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp.Request.Header, nil
	}
	return p, nil
}

// headerCapture is the innermost round tripper of the credential
// wrappers: it answers every request at once, handing back the request
// as they finished it.
type headerCapture struct{}

func (headerCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

// DialPod opens a connection to port of the pod namespace/name, as if
// dialing it from inside the pod's network namespace: a port bound to
// 127.0.0.1 in the pod (Envoy's admin) is reachable.
func (p *PortForwarder) DialPod(ctx context.Context, namespace, name string, port int) (net.Conn, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("port-forward to %s/%s: bad port %d", namespace, name, port)
	}
	target := *p.base
	target.Path = path.Join(target.Path, "/api/v1/namespaces", namespace, "pods", name, "portforward")
	target.RawQuery = url.Values{"ports": {strconv.Itoa(port)}}.Encode()
	fail := func(err error) (net.Conn, error) {
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, name, port, err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return fail(err)
	}
	header, err := p.headers(req)
	if err != nil {
		return fail(fmt.Errorf("credentials: %w", err))
	}

	addr := target.Host
	if target.Port() == "" {
		addr = net.JoinHostPort(target.Hostname(), map[string]string{"https": "443", "http": "80"}[target.Scheme])
	}
	raw, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail(err)
	}
	if p.tls != nil {
		tc := tls.Client(raw, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return fail(fmt.Errorf("TLS: %w", err))
		}
		raw = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}

	ws := target
	ws.Scheme = map[string]string{"https": "wss", "http": "ws"}[target.Scheme]
	cfg, err := websocket.NewConfig(ws.String(), p.base.String())
	if err != nil {
		raw.Close()
		return fail(err)
	}
	cfg.Protocol = []string{portForwardProtocol}
	cfg.Header = header
	// The handshake's reply is kept so that a refusal (403 for missing
	// RBAC, 404 for a pod that is gone) says what the server said.
	rec := &recorder{Conn: raw}
	conn, err := websocket.NewClient(cfg, rec)
	if err != nil {
		raw.Close()
		return fail(handshakeError(err, rec.buf.Bytes()))
	}
	rec.stop()
	_ = raw.SetDeadline(time.Time{})
	return &podConn{ws: conn, raw: raw, port: port}, nil
}

// recorder keeps the first bytes read from a connection.
type recorder struct {
	net.Conn
	mu      sync.Mutex
	buf     bytes.Buffer
	stopped bool
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	if !r.stopped && r.buf.Len() < 8<<10 {
		r.buf.Write(b[:n])
	}
	r.mu.Unlock()
	return n, err
}

func (r *recorder) stop() {
	r.mu.Lock()
	r.stopped = true
	r.buf = bytes.Buffer{}
	r.mu.Unlock()
}

// handshakeError explains a refused upgrade with the server's status and
// message.
func handshakeError(err error, reply []byte) error {
	resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(reply)), nil)
	if rerr != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return fmt.Errorf("websocket handshake: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2<<10))
	msg := strings.TrimSpace(string(body))
	var status struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &status) == nil && status.Message != "" {
		msg = status.Message
	}
	return &PortForwardError{Status: resp.StatusCode, Message: msg}
}

// PortForwardError is the API server's refusal of a port-forward: a
// status and its message ("pods "x" is forbidden: User ... cannot create
// resource "pods/portforward"...").
type PortForwardError struct {
	Status  int
	Message string
}

func (e *PortForwardError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("API server answered %d", e.Status)
	}
	return fmt.Sprintf("API server answered %d: %s", e.Status, e.Message)
}

// podConn is one forwarded connection: a net.Conn over the channel
// protocol.
type podConn struct {
	ws   *websocket.Conn
	raw  net.Conn
	port int

	rmu  sync.Mutex
	seen [2]bool // whether a channel's port prefix was read
	rest []byte  // data read but not yet returned
	err  error   // sticky read error

	wmu sync.Mutex
}

// errPortForward marks an error the kubelet sent on the error channel,
// such as a refused connection to the port inside the pod.
var errPortForward = errors.New("kubelet")

func (c *podConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rest) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		var msg []byte
		if err := websocket.Message.Receive(c.ws, &msg); err != nil {
			c.err = err
			if errors.Is(err, io.EOF) {
				c.err = io.EOF
			}
			continue
		}
		if len(msg) == 0 {
			continue
		}
		ch, data := msg[0], msg[1:]
		if ch > 1 {
			continue
		}
		if !c.seen[ch] {
			// The first message of each channel is the port it serves.
			c.seen[ch] = true
			if len(data) >= 2 && int(binary.LittleEndian.Uint16(data)) == c.port {
				data = data[2:]
			}
		}
		if ch == 1 {
			if text := strings.TrimSpace(string(data)); text != "" {
				c.err = fmt.Errorf("%w: %s", errPortForward, text)
			}
			continue
		}
		c.rest = data
	}
	n := copy(b, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *podConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	msg := make([]byte, 1+len(b))
	copy(msg[1:], b)
	if err := websocket.Message.Send(c.ws, msg); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *podConn) Close() error                       { return c.ws.Close() }
func (c *podConn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *podConn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *podConn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *podConn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *podConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

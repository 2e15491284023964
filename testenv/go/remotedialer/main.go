// Command remotedialer-peer is the bench's peer of ztka's shape, built on Rancher's tunnel library:
//
//	remotedialer-peer server: serves HTTPS; agents connect to /connect over a WebSocket, and every other
//	  request is proxied to the kube-apiserver through the agent's tunnel, with TLS to the apiserver made
//	  by this server and one cluster credential (a bearer token) added to each request.
//	remotedialer-peer agent: dials the server and relays TCP connections to the apiserver's address only.
//
// It is what a Go engineer would write with the library: no authentication of the client, no audit, no
// per-request authorization. ztka does all three on the same path, so it is measured against a peer that
// does less.
package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
	"github.com/sirupsen/logrus"
)

const agentKey = "agent"

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: remotedialer-peer server|agent [flags]")
	}
	logrus.SetLevel(logrus.WarnLevel)
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "agent":
		agent(os.Args[2:])
	default:
		log.Fatalf("remotedialer-peer: unknown mode %q", os.Args[1])
	}
}

func readToken(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func caPool(file string) *x509.CertPool {
	pem, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatalf("no certificate in %s", file)
	}
	return pool
}

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve HTTPS on")
	cert := fs.String("cert", "", "TLS certificate for clients and agents")
	key := fs.String("key", "", "its key")
	agentToken := fs.String("agent-token-file", "", "file holding the token agents present")
	apiserver := fs.String("apiserver", "", "the kube-apiserver's URL, as the agent reaches it")
	apiserverCA := fs.String("apiserver-ca", "", "CA of the kube-apiserver")
	bearer := fs.String("bearer-file", "", "file holding the cluster credential added to every request")
	fs.Parse(args)

	want := []byte(readToken(*agentToken))
	credential := "Bearer " + readToken(*bearer)
	target, err := url.Parse(*apiserver)
	if err != nil {
		log.Fatal(err)
	}

	tunnels := remotedialer.New(func(req *http.Request) (string, bool, error) {
		got := []byte(req.Header.Get("X-Peer-Token"))
		return agentKey, subtle.ConstantTimeCompare(got, want) == 1, nil
	}, remotedialer.DefaultErrorWriter)

	dial := tunnels.Dialer(agentKey)
	transport := &http.Transport{
		DialContext:         func(ctx context.Context, network, addr string) (net.Conn, error) { return dial(ctx, network, addr) },
		TLSClientConfig:     &tls.Config{RootCAs: caPool(*apiserverCA), ServerName: target.Hostname()},
		ForceAttemptHTTP2:   true, // as client-go does; upgrades (exec) still take HTTP/1.1 connections
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
			r.Out.Header.Set("Authorization", credential)
		},
		Transport: transport,
	}

	mux := http.NewServeMux()
	mux.Handle("/connect", tunnels)
	mux.HandleFunc("/", func(rw http.ResponseWriter, req *http.Request) {
		if !tunnels.HasSession(agentKey) {
			http.Error(rw, "no agent connected", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(rw, req)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ServeTLS(ln, *cert, *key))
}

func agent(args []string) {
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	connect := fs.String("connect", "", "the server's wss://…/connect URL")
	serverCA := fs.String("server-ca", "", "CA of the server's certificate")
	token := fs.String("token-file", "", "file holding the token to present")
	allow := fs.String("allow", "", "the one host:port the server may reach through this agent")
	fs.Parse(args)

	headers := http.Header{"X-Peer-Token": {readToken(*token)}}
	dialer := &websocket.Dialer{
		TLSClientConfig:  &tls.Config{RootCAs: caPool(*serverCA)},
		HandshakeTimeout: 10 * time.Second,
	}
	authorize := func(proto, address string) bool { return proto == "tcp" && address == *allow }
	for {
		remotedialer.ClientConnect(context.Background(), *connect, headers, dialer, authorize, nil)
		time.Sleep(time.Second)
	}
}

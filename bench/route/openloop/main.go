// Open-loop HTTP/1.1 load generator of the routing benchmark (bench/route.ts builds and runs it).
//
// Requests are scheduled at fixed intervals (rate per second) whatever the server does, and each
// request's latency is measured from the time it was scheduled, not from when a connection was
// free to send it: a slow answer delays the requests queued behind it and they are charged for
// the wait (no coordinated omission). Keep-alive connections, one request in flight on each.
//
// Prints one line, "openloop-result <json>", when the run ends.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type entry struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

type result struct {
	Scheduled     int64            `json:"scheduled"`
	Completed     int64            `json:"completed"`
	Errors        int64            `json:"errors"`
	Unanswered    int64            `json:"unanswered"`
	Unsent        int64            `json:"unsent"`
	Statuses      map[string]int64 `json:"statuses"`
	P50Us         float64          `json:"p50Us"`
	P90Us         float64          `json:"p90Us"`
	P99Us         float64          `json:"p99Us"`
	MaxUs         float64          `json:"maxUs"`
	Seconds       float64          `json:"seconds"`
	MaxBacklog    int              `json:"maxBacklog"`
	CPUSeconds    float64          `json:"cpuSeconds"`
	FirstError    string           `json:"firstError"`
	DistinctHosts int64            `json:"distinctHosts"`
}

type worker struct {
	addr      string
	conn      net.Conn
	reader    *bufio.Reader
	latencies []float64
	statuses  map[int]int64
	errors    int64
	unsent    int64
	firstErr  error
}

func render(e entry, host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", e.Path)
	hasHost := false
	for name, value := range e.Headers {
		if strings.EqualFold(name, "host") {
			hasHost = true
			if host != "" {
				value = host
			}
		}
		fmt.Fprintf(&b, "%s: %s\r\n", name, value)
	}
	if !hasHost {
		if host == "" {
			host = "localhost"
		}
		fmt.Fprintf(&b, "host: %s\r\n", host)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func (w *worker) fail(err error) {
	w.errors++
	if w.firstErr == nil {
		w.firstErr = err
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// roundTrip sends one request and reads the whole response; the status, or an error.
func (w *worker) roundTrip(request []byte) (int, error) {
	if w.conn == nil {
		conn, err := net.DialTimeout("tcp", w.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		w.conn = conn
		w.reader = bufio.NewReaderSize(conn, 16*1024)
	}
	w.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := w.conn.Write(request); err != nil {
		return 0, err
	}
	line, err := w.reader.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	fields := bytes.Fields(line)
	if len(fields) < 2 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := int64(-1)
	chunked := false
	closeAfter := false
	for {
		header, err := w.reader.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(header) <= 2 {
			break
		}
		colon := bytes.IndexByte(header, ':')
		if colon < 0 {
			continue
		}
		name := string(bytes.ToLower(header[:colon]))
		value := string(bytes.TrimSpace(header[colon+1:]))
		switch name {
		case "content-length":
			length, _ = strconv.ParseInt(value, 10, 64)
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		case "connection":
			closeAfter = strings.EqualFold(value, "close")
		}
	}
	switch {
	case chunked:
		for {
			sizeLine, err := w.reader.ReadString('\n')
			if err != nil {
				return 0, err
			}
			size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(sizeLine, ";", 2)[0]), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("bad chunk size %q", sizeLine)
			}
			if _, err := io.CopyN(io.Discard, w.reader, size+2); err != nil {
				return 0, err
			}
			if size == 0 {
				break
			}
		}
	case length > 0:
		if _, err := io.CopyN(io.Discard, w.reader, length); err != nil {
			return 0, err
		}
	case length < 0:
		return 0, errors.New("response without content-length or chunked body")
	}
	if closeAfter {
		w.conn.Close()
		w.conn = nil
	}
	return status, nil
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(float64(len(sorted))*p/100+0.5) - 1
	if index < 0 {
		index = 0
	}
	if index >= len(sorted) {
		index = len(sorted) - 1
	}
	return sorted[index]
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "base URL (http only)")
	requestFile := flag.String("requests", "", "JSON list of {path, headers}, replayed in order")
	rate := flag.Float64("rate", 1000, "requests scheduled per second")
	duration := flag.Duration("duration", 10*time.Second, "how long requests are scheduled")
	connections := flag.Int("connections", 64, "keep-alive connections (requests in flight at most)")
	randomHosts := flag.String("random-host-suffix", "", "when set, every request gets its own host <n>-<random><suffix>")
	flag.Parse()

	addr := strings.TrimSuffix(strings.TrimPrefix(*url, "http://"), "/")
	raw, err := os.ReadFile(*requestFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(2)
	}
	var entries []entry
	if err := json.Unmarshal(raw, &entries); err != nil || len(entries) == 0 {
		fmt.Fprintln(os.Stderr, "openloop: the request file must hold a non-empty JSON list of {path, headers}")
		os.Exit(2)
	}
	rendered := make([][]byte, len(entries))
	for i, e := range entries {
		rendered[i] = render(e, "")
	}

	total := int64(*rate * duration.Seconds())
	queue := make(chan [2]int64, total+1) // {scheduled unix nanos, request index}
	workers := make([]*worker, *connections)
	var wg sync.WaitGroup
	random := rand.New(rand.NewSource(time.Now().UnixNano()))
	hostPrefix := strconv.FormatInt(random.Int63(), 36)
	dropAfter := time.Now().Add(*duration + 2*time.Second).UnixNano()
	for i := range workers {
		w := &worker{addr: addr, statuses: map[int]int64{}, latencies: make([]float64, 0, total/int64(*connections)+16)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range queue {
				// A request still queued this long after the schedule ended is dropped, not sent:
				// the window must not run on for as long as the backlog the client built up.
				if time.Now().UnixNano() > dropAfter {
					w.unsent++
					continue
				}
				var request []byte
				if *randomHosts != "" {
					request = render(entries[item[1]%int64(len(entries))], hostPrefix+"-"+strconv.FormatInt(item[1], 36)+*randomHosts)
				} else {
					request = rendered[item[1]%int64(len(rendered))]
				}
				status, err := w.roundTrip(request)
				if err != nil {
					w.fail(err)
					continue
				}
				w.statuses[status]++
				w.latencies = append(w.latencies, float64(time.Now().UnixNano()-item[0])/1000)
			}
		}()
	}

	interval := float64(time.Second) / *rate
	start := time.Now()
	maxBacklog := 0
	var scheduled int64
	for scheduled < total {
		now := time.Since(start)
		due := int64(float64(now)/interval) + 1
		if due > total {
			due = total
		}
		for ; scheduled < due; scheduled++ {
			queue <- [2]int64{start.UnixNano() + int64(float64(scheduled)*interval), scheduled}
		}
		if backlog := len(queue); backlog > maxBacklog {
			maxBacklog = backlog
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(queue)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
	seconds := time.Since(start).Seconds()

	out := result{Scheduled: scheduled, Statuses: map[string]int64{}, MaxBacklog: maxBacklog, Seconds: seconds}
	var all []float64
	for _, w := range workers {
		all = append(all, w.latencies...)
		out.Errors += w.errors
		out.Unsent += w.unsent
		if w.firstErr != nil && out.FirstError == "" {
			out.FirstError = w.firstErr.Error()
		}
		for status, count := range w.statuses {
			out.Statuses[strconv.Itoa(status)] += count
			out.Completed += count
		}
	}
	out.Unanswered = scheduled - out.Completed - out.Errors - out.Unsent
	if *randomHosts != "" {
		out.DistinctHosts = scheduled
	}
	sort.Float64s(all)
	out.P50Us = percentile(all, 50)
	out.P90Us = percentile(all, 90)
	out.P99Us = percentile(all, 99)
	if len(all) > 0 {
		out.MaxUs = all[len(all)-1]
	}
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) == nil {
		out.CPUSeconds = float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9
	}
	line, _ := json.Marshal(out)
	fmt.Printf("openloop-result %s\n", line)
}

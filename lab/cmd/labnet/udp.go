package main

import (
	"fmt"
	"io"
	"net"
	"time"
)

// serveUDP answers every datagram that reaches addr with name and a newline.
func serveUDP(addr, name string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer pc.Close()
	return answerUDP(pc, name)
}

// answerUDP is serveUDP's loop on an open socket; it returns when pc fails.
func answerUDP(pc net.PacketConn, name string) error {
	buf := make([]byte, 2048)
	reply := []byte(name + "\n")
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, err := pc.WriteTo(reply, from); err != nil {
			return fmt.Errorf("reply to %s: %w", from, err)
		}
	}
}

// askUDP sends one datagram to addr and copies the reply to w.
func askUDP(w io.Writer, addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("udp", addr, timeout)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if _, err := c.Write([]byte("hello\n")); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return fmt.Errorf("no reply from %s: %w", addr, err)
	}
	_, err = w.Write(buf[:n])
	return err
}

package wscat_test

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// openPTY opens a pseudo-terminal of cols×rows: the master for the test,
// the slave to be the child's terminal. wscat behaves as in a person's
// shell only on a terminal: it says when it is connected and reads what is
// typed only once it is (on a pipe, lines typed before are lost and
// nothing says when to type).
func openPTY(cols, rows uint16) (master, slave *os.File, err error) {
	// Opened by os, not by raw fds: the master then sits in Go's poller, so
	// that closing it ends a Read blocked on it.
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	var n uint32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(new(int32))); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock the pty: %w", err)
	}
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open the pty's slave: %w", err)
	}
	// Wide enough that readline never wraps a typed frame.
	ws := struct{ rows, cols, x, y uint16 }{rows: rows, cols: cols}
	if err := ioctl(slave, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("set the pty's size: %w", err)
	}
	return master, slave, nil
}

// ioctl runs one ioctl on f without taking f out of Go's poller (as Fd
// would).
func ioctl(f *os.File, req uint, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(req), uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

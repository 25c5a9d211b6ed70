//! UDP multicast on one network interface: the transport of peer announcements.
//!
//! The socket binds the group's address and port (so it only sees that group's
//! datagrams) with `SO_REUSEADDR`/`SO_REUSEPORT` (several daemons on one host or
//! network namespace can share it), joins the group on the interface by index, sends
//! through that interface (`IP_MULTICAST_IF`), with a TTL of 1 (never routed beyond the
//! local network) and loopback on (cameras on one host hear each other; a camera's own
//! datagrams are recognised and ignored).

use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::PeerTransport;

/// A joined multicast group.
#[derive(Debug)]
pub struct UdpMulticast {
    socket: UdpSocket,
    group: SocketAddrV4,
    interface: String,
}

/// The index of interface `name`.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface {name}"),
        ));
    }
    Ok(index)
}

/// `IP_MULTICAST_IF` by interface index (`struct ip_mreqn`).
fn set_multicast_if_index(socket: &Socket, index: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: i32::try_from(index)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
    };
    let len = std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t;
    // SAFETY: the fd is an open socket owned by `socket`; `mreqn` is a valid
    // `ip_mreqn` of `len` bytes that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&raw const mreqn).cast(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl UdpMulticast {
    /// Join `group` on `interface`.
    pub fn open(interface: &str, group: SocketAddrV4) -> io::Result<UdpMulticast> {
        let index = interface_index(interface)?;
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&SocketAddr::V4(group).into())?;
        socket.join_multicast_v4_n(group.ip(), &InterfaceIndexOrAddress::Index(index))?;
        // Only the groups this socket joined, not every group of the host.
        socket.set_multicast_all_v4(false)?;
        set_multicast_if_index(&socket, index)?;
        socket.set_multicast_ttl_v4(1)?;
        socket.set_multicast_loop_v4(true)?;
        let socket: UdpSocket = socket.into();
        Ok(UdpMulticast {
            socket,
            group,
            interface: interface.to_string(),
        })
    }
}

impl PeerTransport for UdpMulticast {
    fn describe(&self) -> String {
        format!("udp multicast {} on {}", self.group, self.interface)
    }

    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        self.socket.send_to(datagram, self.group).map(|_| ())
    }

    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match self.socket.recv_from(buf) {
            Ok((n, _)) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// The group address of `peers.group` (checked by the config).
pub fn parse_group(text: &str) -> Option<SocketAddrV4> {
    text.parse::<SocketAddrV4>()
        .ok()
        .filter(|a| a.ip().is_multicast() && *a.ip() != Ipv4Addr::UNSPECIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_interfaces_are_named() {
        let e = interface_index("no-such-if0").unwrap_err();
        assert!(e.to_string().contains("no-such-if0"), "{e}");
        assert!(interface_index("lo").is_ok());
    }

    #[test]
    fn groups_must_be_multicast() {
        assert!(parse_group("239.1.2.3:4000").is_some());
        assert!(parse_group("127.0.0.1:4000").is_none());
        assert!(parse_group("239.1.2.3").is_none());
    }
}

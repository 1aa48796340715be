//! One end of TCP over the lossy link: a smoltcp interface with one TCP socket, whose "wire"
//! is a UDP socket on 127.0.0.1 (each IP packet one datagram), and the counter of the segments
//! it sends again.

use std::collections::VecDeque;
use std::time::Duration;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpProtocol, Ipv4Packet, TcpPacket};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// IP MTU of the virtual link (each IP packet is one UDP datagram on loopback).
pub const MTU: usize = 1400;
/// TCP buffers of each end.
pub(crate) const BUFFER: usize = 65_535;

/// A smoltcp device whose frames are queued in memory; the task around it moves them to and
/// from its UDP socket.
#[derive(Default)]
struct TunnelDevice {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct TunnelRx(Vec<u8>);
struct TunnelTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for TunnelRx {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

impl phy::TxToken for TunnelTx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.push_back(frame);
        r
    }
}

impl Device for TunnelDevice {
    type RxToken<'a> = TunnelRx;
    type TxToken<'a> = TunnelTx<'a>;

    fn receive(
        &mut self,
        _now: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((TunnelRx(frame), TunnelTx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(TunnelTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// Counts the TCP segments a sender transmits again, from the IPv4 packets it puts on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetransmitCounter {
    /// One past the highest sequence number sent so far.
    next: Option<u32>,
    /// Segments (carrying data, SYN or FIN) that start below `next`.
    pub segments: u64,
    /// Sequence space sent again.
    pub bytes: u64,
}

impl RetransmitCounter {
    pub fn on_packet(&mut self, ip: &[u8]) {
        let Ok(ip) = Ipv4Packet::new_checked(ip) else {
            return;
        };
        if ip.next_header() != IpProtocol::Tcp {
            return;
        }
        let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        let len = tcp.segment_len() as u32;
        if len == 0 {
            return; // a bare ACK
        }
        let start = tcp.seq_number().0 as u32;
        let end = start.wrapping_add(len);
        match self.next {
            Some(next) if (start.wrapping_sub(next) as i32) < 0 => {
                self.segments += 1;
                let again = (next.wrapping_sub(start) as i32).min(len as i32);
                self.bytes += again.max(0) as u64;
                if (end.wrapping_sub(next) as i32) > 0 {
                    self.next = Some(end);
                }
            }
            _ => self.next = Some(end),
        }
    }
}

/// One end: a smoltcp interface with one TCP socket, wired to a UDP socket.
pub(crate) struct Stack {
    pub iface: Interface,
    dev: TunnelDevice,
    pub sockets: SocketSet<'static>,
    pub tcp: SocketHandle,
    epoch: Instant,
    pub udp: UdpSocket,
}

impl Stack {
    pub fn new(udp: UdpSocket, ip: IpAddress, seed: u64) -> Stack {
        let epoch = Instant::now();
        let mut dev = TunnelDevice::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, smoltcp::time::Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(ip, 24));
        });
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUFFER]),
            tcp::SocketBuffer::new(vec![0; BUFFER]),
        );
        sock.set_nagle_enabled(false);
        sock.set_ack_delay(None);
        let mut sockets = SocketSet::new(Vec::new());
        let tcp = sockets.add(sock);
        Stack {
            iface,
            dev,
            sockets,
            tcp,
            epoch,
            udp,
        }
    }

    pub fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    pub fn poll(&mut self) {
        let now = self.now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
    }

    pub fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(self.tcp)
    }

    /// Sends what the stack queued, each IP packet as one datagram.
    pub async fn flush(&mut self, mut counter: Option<&mut RetransmitCounter>) {
        while let Some(frame) = self.dev.tx.pop_front() {
            if let Some(c) = counter.as_deref_mut() {
                c.on_packet(&frame);
            }
            // A full socket buffer or a vanished peer is one more lost packet: TCP copes.
            let _ = self.udp.send(&frame).await;
        }
    }

    /// When smoltcp next needs to be polled (a retransmission timer, say).
    pub fn delay(&mut self) -> Option<Duration> {
        let now = self.now();
        self.iface
            .poll_delay(now, &self.sockets)
            .map(|d| Duration::from_micros(d.total_micros()))
    }

    /// Takes the datagram just received and whatever else is already waiting.
    pub fn take_incoming(&mut self, first: &[u8], buf: &mut [u8]) {
        self.dev.rx.push_back(first.to_vec());
        while let Ok(n) = self.udp.try_recv(buf) {
            self.dev.rx.push_back(buf[..n].to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{IpProtocol, Ipv4Address, Ipv4Repr, TcpRepr, TcpSeqNumber};

    fn segment(seq: i32, len: usize) -> Vec<u8> {
        let payload = vec![0u8; len];
        let tcp = TcpRepr {
            src_port: 1,
            dst_port: 2,
            control: smoltcp::wire::TcpControl::None,
            seq_number: TcpSeqNumber(seq),
            ack_number: None,
            window_len: 1000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &payload,
        };
        let ip = Ipv4Repr {
            src_addr: Ipv4Address::new(10, 0, 0, 1),
            dst_addr: Ipv4Address::new(10, 0, 0, 2),
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut buf = vec![0u8; ip.buffer_len() + tcp.buffer_len()];
        let mut p = Ipv4Packet::new_unchecked(&mut buf);
        ip.emit(&mut p, &smoltcp::phy::ChecksumCapabilities::default());
        let mut t = TcpPacket::new_unchecked(p.payload_mut());
        tcp.emit(
            &mut t,
            &ip.src_addr.into(),
            &ip.dst_addr.into(),
            &smoltcp::phy::ChecksumCapabilities::default(),
        );
        buf
    }

    #[test]
    fn retransmissions_are_segments_below_the_highest_sent() {
        let mut c = RetransmitCounter::default();
        c.on_packet(&segment(1000, 100));
        c.on_packet(&segment(1100, 100));
        c.on_packet(&segment(1200, 0)); // bare ACK
        assert_eq!(c.segments, 0);
        c.on_packet(&segment(1000, 100)); // again
        assert_eq!((c.segments, c.bytes), (1, 100));
        c.on_packet(&segment(1100, 200)); // half again, half new
        assert_eq!((c.segments, c.bytes), (2, 200));
        c.on_packet(&segment(1300, 100));
        assert_eq!(c.segments, 2);
        // Across the wrap of the sequence space.
        let mut c = RetransmitCounter::default();
        c.on_packet(&segment(-50, 100));
        c.on_packet(&segment(50, 10));
        c.on_packet(&segment(-50, 100));
        assert_eq!(c.segments, 1);
    }
}

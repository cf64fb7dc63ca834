//! The connector chain of a stream's HTTP agent: ureq's SOCKS, CONNECT-proxy, TCP and
//! rustls connectors, plus a wrapper that applies the idle timeout to body reads only.
//!
//! ureq's per-read timeout would also cut the wait for the response headers, which for
//! reasoning models is legitimately long (600 s by default against a 300 s idle limit).
//! The wrapper sets the per-read limit only once the client says the headers are in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    SocksConnector, TcpConnector, Transport,
};

/// The rustls connector caches its TLS configuration; sharing it between the per-stream
/// agents of one client builds that configuration (root store, verifier) once.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedTls(Arc<RustlsConnector>);

impl<In: Transport> Connector<In> for SharedTls {
    type Out = <RustlsConnector as Connector<In>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.0.connect(details, chained)
    }
}

/// Tells the transports of one stream that the body phase has begun.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyPhase(Arc<AtomicBool>);

impl BodyPhase {
    pub fn begin(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn started(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Wraps whatever the chain produced so body reads get the idle timeout.
#[derive(Debug)]
pub(crate) struct IdleConnector {
    pub idle: Option<Duration>,
    pub phase: BodyPhase,
}

impl<In: Transport> Connector<In> for IdleConnector {
    type Out = IdleTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| IdleTransport {
            inner,
            idle: self.idle,
            phase: self.phase.clone(),
        }))
    }
}

/// A transport whose reads time out after the idle limit once the body phase began.
#[derive(Debug)]
pub(crate) struct IdleTransport<T> {
    inner: T,
    idle: Option<Duration>,
    phase: BodyPhase,
}

impl<T: Transport> Transport for IdleTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, mut timeout: NextTimeout) -> Result<bool, ureq::Error> {
        if let (Some(idle), true) = (self.idle, self.phase.started()) {
            // The innermost (TCP) transport applies `per_read`, so any byte, a keep-alive
            // comment included, restarts the idle clock.
            timeout.per_read = Some(idle.into());
        }
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The full chain for one stream.
pub(crate) fn connector(tls: &SharedTls, idle: IdleConnector) -> impl Connector {
    ().chain(SocksConnector::default())
        .chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(tls.clone())
        .chain(idle)
}

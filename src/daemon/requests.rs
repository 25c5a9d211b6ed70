use super::*;

pub(super) fn handle_request(
    req: Request,
    status: &Mutex<Status>,
    input: &Sender<Input>,
    sim: Option<&SimButton>,
) -> Response {
    let send = |c: Command| match input.send(Input::Command(c)) {
        Ok(()) => Response::ok(),
        Err(_) => Response::error("the daemon is shutting down"),
    };
    match req {
        Request::Status => match status.lock() {
            Ok(s) => Response {
                ok: true,
                error: None,
                status: Some(s.clone()),
                head: None,
            },
            Err(_) => Response::error("status unavailable"),
        },
        Request::Button { action } => {
            let Some(button) = sim else {
                return Response::error(
                    "button injection needs controls.backend = \"simulated\"; this daemon uses GPIO",
                );
            };
            let action = match action {
                ButtonAction::Press => SimAction::Press,
                ButtonAction::Double => SimAction::Double,
                ButtonAction::Triple => SimAction::Triple,
                ButtonAction::Hold => SimAction::Hold,
                ButtonAction::Bounce => SimAction::Bounce,
            };
            match button.perform(action) {
                Ok(()) => Response::ok(),
                Err(e) => Response::error(e.to_string()),
            }
        }
        Request::Record { action } => send(match action {
            RecordAction::Start => Command::Start,
            RecordAction::Stop => Command::Stop,
        }),
        Request::Marker => send(Command::Marker),
        Request::Stealth => send(Command::ToggleStealth),
        Request::Dock | Request::Undock => {
            if sim.is_none() {
                return Response::error(
                    "ctl dock/undock needs controls.backend = \"simulated\"; this daemon senses the dock on GPIO",
                );
            }
            match input.send(Input::Dock(req == Request::Dock)) {
                Ok(()) => Response::ok(),
                Err(_) => Response::error("the daemon is shutting down"),
            }
        }
        Request::Head { nonce } => {
            let nonce = match hex::decode(nonce.trim()) {
                Ok(n) if (1..=64).contains(&n.len()) => n,
                Ok(_) | Err(_) => return Response::error("nonce must be 1–64 bytes of hex"),
            };
            let (tx, rx) = crossbeam_channel::bounded(1);
            if input.send(Input::Head(nonce, tx)).is_err() {
                return Response::error("the daemon is shutting down");
            }
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(head) => Response {
                    ok: true,
                    error: None,
                    status: None,
                    head: Some(head),
                },
                Err(_) => Response::error("the daemon did not answer"),
            }
        }
    }
}

impl Loop {
    /// Start the dock API (if configured) now that the camera is docked.
    pub(super) fn open_dock(&mut self) {
        if self.dock_server.is_some() {
            return;
        }
        self.count_pending();
        let Some(setup) = &self.dock else {
            warn!("docked, but no [dock] cert/key/ca configured: the dock API stays closed");
            return;
        };
        let backend = Arc::new(DaemonDock::new(
            setup.call.clone(),
            self.status.clone(),
            self.store.root().to_path_buf(),
            self.signer.identity().public(),
        ));
        match DockServer::start(
            setup.addr,
            setup.tls.clone(),
            backend,
            DockLimits::default(),
        ) {
            Ok(server) => {
                info!(addr = %server.local_addr(), "dock API open (mutual TLS)");
                self.dock_server = Some(server);
            }
            Err(e) => {
                error!(error = %e, "cannot open the dock API");
                self.last_fault = Some(e.to_string());
            }
        }
    }

    pub(super) fn count_pending(&mut self) {
        self.offload_pending = match offload::pending(self.store.recordings_dir()) {
            Ok(n) => Some(n),
            Err(e) => {
                warn!(error = %e, "cannot count segments waiting for offload");
                None
            }
        };
    }

    /// Answer a dock API request that signs or changes state.
    pub(super) fn dock_call(&mut self, req: DockRequest) -> DockReply {
        self.dock_activity = Some(Instant::now());
        let answer = self.dock_request(req);
        self.update_leds();
        self.publish();
        answer
    }

    pub(super) fn dock_request(&mut self, req: DockRequest) -> DockReply {
        match req {
            DockRequest::Head(nonce) => Ok(self.head_statement(&nonce)),
            DockRequest::Ack(ack) => {
                let dir = self.store.recordings_dir().join(&ack.recording);
                let already = offload::is_acknowledged(&dir, ack.segment);
                let utc = crate::clock::rfc3339(chrono::Utc::now());
                let record = offload::acknowledge(
                    self.store.flash(),
                    self.store.recordings_dir(),
                    &ack.recording,
                    ack.segment,
                    &ack.blob,
                    &ack.sha256,
                    &utc,
                )
                .map_err(|e| DockError::from_ack(&ack, e))?;
                if !already {
                    info!(recording = %ack.recording, segment = ack.segment, blob = %ack.blob, "offload acknowledged");
                    self.audit_event(
                        events::OFFLOAD_ACK,
                        serde_json::json!({
                            "recording_id": ack.recording,
                            "segment": ack.segment,
                            "blob": ack.blob,
                            "sha256": record.sha256,
                        }),
                    );
                }
                self.count_pending();
                let mut freed = false;
                if self.cfg.storage.delete_after_ack {
                    freed = self.free_acknowledged(Some((&ack.recording, ack.segment)));
                }
                Ok(serde_json::json!({
                    "acknowledged": true,
                    "recording_id": ack.recording,
                    "segment": ack.segment,
                    "sha256": record.sha256,
                    "freed": freed,
                }))
            }
            DockRequest::SetTime(utc_ms) => Ok(self.set_time(utc_ms)),
        }
    }

    /// The dock's trusted time: the offset of our clock from it is always audited; the
    /// clock is set only with `dock.set_clock = true` (and CAP_SYS_TIME).
    pub(super) fn set_time(&mut self, utc_ms: i64) -> serde_json::Value {
        let before = chrono::Utc::now().timestamp_millis();
        let offset = utc_ms - before;
        let (applied, error) = if self.cfg.dock.set_clock {
            let ts = libc::timespec {
                tv_sec: utc_ms.div_euclid(1000),
                tv_nsec: utc_ms.rem_euclid(1000) * 1_000_000,
            };
            // SAFETY: a valid timespec; the kernel checks the caller's privilege.
            let applied = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } == 0;
            (
                applied,
                (!applied).then(|| std::io::Error::last_os_error().to_string()),
            )
        } else {
            (
                false,
                Some("not set: dock.set_clock is off (offset recorded only)".to_string()),
            )
        };
        if applied {
            self.signer
                .set_clock_state(crate::evidence::record::ClockState::Dock);
            // Not a jump of our own making.
            self.clock_offset_ms = clock_offset_ms();
        }
        info!(offset_ms = offset, applied, "clock set by the dock");
        self.audit_event(
            events::CLOCK,
            serde_json::json!({ "change": "dock", "offset_ms": offset, "applied": applied, "error": error }),
        );
        serde_json::json!({ "offset_ms": offset, "applied": applied, "error": error })
    }

    /// Free the media of acknowledged segments: just `only` (delete_after_ack), or the
    /// oldest until capacity is back above the reserve. Each deletion is audited.
    /// Returns whether anything was freed.
    pub(super) fn free_acknowledged(&mut self, only: Option<(&str, u32)>) -> bool {
        let list = match offload::reclaimable(self.store.recordings_dir()) {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "cannot list acknowledged segments");
                return false;
            }
        };
        let mut freed = false;
        for r in list {
            if let Some((rec, seg)) = only
                && (r.recording != rec || r.segment != seg)
            {
                continue;
            }
            if only.is_none() && !self.store.capacity().low {
                break;
            }
            match offload::free(&r) {
                Ok(()) => {
                    freed = true;
                    self.store.release(r.bytes);
                    info!(recording = %r.recording, segment = r.segment, bytes = r.bytes, "freed acknowledged segment");
                    self.audit_event(
                        events::SEGMENT_FREED,
                        serde_json::json!({ "recording_id": r.recording, "segment": r.segment, "bytes": r.bytes }),
                    );
                }
                Err(e) => warn!(error = %e, "cannot free an acknowledged segment"),
            }
        }
        if freed && let Err(e) = self.store.refresh() {
            warn!(error = %e, "cannot read free space");
        }
        freed
    }

    /// A signed head statement for `nonce`, as `ctl head` prints it.
    pub(super) fn head_statement(&mut self, nonce: &[u8]) -> serde_json::Value {
        let record = self.signer.sign_head(nonce);
        let media = self.signer.media_head();
        let audit = self.signer.audit_head();
        self.audit_event(
            events::HEAD_ISSUED,
            serde_json::json!({
                "nonce": hex::encode(nonce),
                "media_count": media.count,
                "audit_count": audit.count,
            }),
        );
        serde_json::json!({
            "format": "bodycam-head/1",
            "device_id": hex::encode(self.signer.identity().device_id()),
            "nonce": hex::encode(nonce),
            "media_count": media.count,
            "media_hash": hex::encode(media.hash),
            "audit_count": audit.count,
            "audit_hash": hex::encode(audit.hash),
            "utc": crate::clock::rfc3339(chrono::Utc::now()),
            "record": hex::encode(record),
        })
    }
}

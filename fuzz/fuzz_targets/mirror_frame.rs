//! Fuzzes the mirror's frame decoder: arbitrary bytes in, as if from the twin link. Every
//! frame that decodes must re-encode to bytes that decode to the same frame, as a whole
//! and with nothing left over; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_mirror::frame::Frame;

fuzz_target!(|data: &[u8]| {
    let (frames, used) = Frame::decode_all(data);
    assert!(
        used <= data.len(),
        "decode_all used {used} of {} bytes",
        data.len()
    );
    for frame in frames.into_iter().flatten() {
        let wire = frame.encode();
        let (again, again_used) = Frame::decode_all(&wire);
        assert_eq!(
            again_used,
            wire.len(),
            "re-encoded {frame:?} not consumed whole"
        );
        assert_eq!(
            again.len(),
            1,
            "re-encoded {frame:?} decodes to {} frames",
            again.len()
        );
        match &again[0] {
            Ok(back) => assert_eq!(back, &frame, "re-encoded frame decodes to another frame"),
            Err(e) => panic!("re-encoded {frame:?} does not decode: {e}"),
        }
    }
});

use super::*;

#[test]
fn der_conversion_pads_high_bit_and_strips_zeros() {
    let mut raw = [0u8; 64];
    raw[0] = 0x80; // r has high bit: needs a 0x00 pad
    raw[32] = 0;
    raw[33] = 0;
    raw[34] = 0x01; // s has leading zeros
    let der = ecdsa_raw_to_der(&raw).unwrap();
    assert_eq!(der[0], 0x30);
    assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
    let s_at = 2 + 2 + 33;
    assert_eq!(&der[s_at..s_at + 3], &[0x02, 30, 0x01]);
    assert_eq!(der[1] as usize, der.len() - 2);
    assert!(ecdsa_raw_to_der(&[1, 2, 3]).is_none());
    assert!(ecdsa_raw_to_der(&[]).is_none());
}

#[test]
fn p384_der_is_short_form() {
    let raw = [0xffu8; 96];
    let der = ecdsa_raw_to_der(&raw).unwrap();
    assert_eq!(der[1] as usize, 2 * (2 + 49));
}

#[test]
fn protobuf_round_trip() {
    let args = encode_verify_signature_args("sha256", &[1, 2], &[3], &vec![7u8; 300]);
    assert_eq!(&args[..8], b"\x0a\x06sha256");
    assert_eq!(&args[8..12], &[0x12, 2, 1, 2]);
    assert_eq!(&args[12..15], &[0x1a, 1, 3]);
    assert_eq!(&args[15..18], &[0x22, 0xac, 0x02]);
    assert_eq!(args.len(), 18 + 300);

    assert_eq!(
        decode_verify_signature_result(&[0x08, 1]),
        Some(HostVerdict {
            result: true,
            error: String::new()
        })
    );
    let mut buf = vec![0x12, 5];
    buf.extend_from_slice(b"Faile");
    assert_eq!(decode_verify_signature_result(&buf).unwrap().error, "Faile");
    assert_eq!(
        decode_verify_signature_result(&[]),
        Some(HostVerdict::default())
    );
    assert_eq!(decode_verify_signature_result(&[0x12, 9, 1]), None);
}

//! The byte edits every structure-aware fuzz driver applies to a genuine message: included by
//! each driver (`#[path = "mutate.rs"] mod mutate;`), so all of them read the fuzzer's bytes the
//! same way.

/// Applies 4-byte edits `[op, pos lo, pos hi, value]`, `op % 6`: 0 flip bit (value % 8) of byte
/// pos, 1 truncate to pos, 2 set byte pos to value, 3 insert value at pos, 4 remove byte pos,
/// 5 append value (positions modulo the current length).
pub fn mutate(source: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut b = source.to_vec();
    for edit in edits.chunks_exact(4) {
        let (op, pos, value) = (
            edit[0],
            usize::from(u16::from_le_bytes([edit[1], edit[2]])),
            edit[3],
        );
        match op % 6 {
            0 if !b.is_empty() => {
                let i = pos % b.len();
                b[i] ^= 1 << (value % 8);
            }
            1 => b.truncate(pos % (b.len() + 1)),
            2 if !b.is_empty() => {
                let i = pos % b.len();
                b[i] = value;
            }
            3 => {
                let i = pos % (b.len() + 1);
                b.insert(i, value);
            }
            4 if !b.is_empty() => {
                b.remove(pos % b.len());
            }
            5 => b.push(value),
            _ => {}
        }
    }
    b
}

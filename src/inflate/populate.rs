//! Taking an output's page faults ahead of the thread that writes it.
//!
//! A fresh array's memory is mapped on first write. That costs 14 ms per
//! 128 MiB in huge pages on this machine's kernel, and about 250 ms when
//! the memory was freed a few seconds earlier and the hypervisor took it
//! back (free page reporting): as much as inflating half of it. A
//! numpy-written member is one stream inflated by one thread, so the other
//! core asks the kernel to map the pages first (`MADV_POPULATE_WRITE`,
//! Linux 5.14), a few MiB ahead of the inflater. The kernel maps pages
//! without writing to them (an already-mapped page is left as it is), so
//! the bytes the inflater writes are never touched. Elsewhere, or on an
//! older kernel, this does nothing and the inflater takes the faults.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the kernel refused the advice: not asked again.
static REFUSED: AtomicBool = AtomicBool::new(false);

/// Ask the kernel to map the whole pages of `len` bytes at `ptr` for
/// writing, without changing their contents. Best effort: returns whether
/// the kernel did.
#[cfg(target_os = "linux")]
pub fn populate_write(ptr: *mut u8, len: usize) -> bool {
    if REFUSED.load(Ordering::Relaxed) {
        return false;
    }
    let page = page_size();
    let start = (ptr as usize).next_multiple_of(page);
    let end = (ptr as usize).saturating_add(len) / page * page;
    if end <= start {
        return true;
    }
    // SAFETY: the range lies inside memory the caller holds (`ptr`, `len`)
    // and is page-aligned. MADV_POPULATE_WRITE only maps pages that are
    // not mapped yet (zero-filled, as a first write would find them); it
    // never writes to a page's bytes, so it cannot race with the writes of
    // the thread that owns them.
    let rc = unsafe {
        libc::madvise(
            start as *mut libc::c_void,
            end - start,
            libc::MADV_POPULATE_WRITE,
        )
    };
    if rc != 0 {
        // EINVAL before Linux 5.14; anything else (ENOMEM, EFAULT on a
        // mapping the kernel will not populate) leaves the faults to the
        // writer, as before.
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            REFUSED.store(true, Ordering::Relaxed);
        }
        return false;
    }
    true
}

/// Elsewhere the writer takes its own page faults.
#[cfg(not(target_os = "linux"))]
pub fn populate_write(_ptr: *mut u8, _len: usize) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    use std::sync::OnceLock;
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n)
            .ok()
            .filter(|&n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_kept_and_fresh_pages_read_zero() {
        let mut buf = vec![0u8; 8 << 20];
        // Written before: must survive.
        for (i, b) in buf[..1 << 20].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let ok = populate_write(buf.as_mut_ptr(), buf.len());
        if cfg!(target_os = "linux") && !REFUSED.load(Ordering::Relaxed) {
            assert!(ok);
        }
        assert!(buf[..1 << 20]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8));
        assert!(buf[1 << 20..].iter().all(|&b| b == 0));
        // Unaligned and tiny ranges are fine.
        populate_write(buf[1..].as_mut_ptr(), 3);
        populate_write(buf[4095..].as_mut_ptr(), 10_000);
        assert_eq!(buf[0], 0);
    }
}

//! B packed once for many products: f32 panels of [`PANEL`] columns, k-major, or AMX tiles.

use super::panel::{BMatrix, check_b, pack_panel};
use super::precision::Precision;
use crate::common::gemm::PANEL;
use crate::cpu::SimdLevel;
use crate::pool::parallel;
use crate::send_ptr::SendPtr;

/// f32s per [`Align64`] block: one cache line.
const LINE_FLOATS: usize = 16;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Align64([f32; LINE_FLOATS]);

/// A growable f32 buffer aligned to 64 bytes, so panels load as aligned vectors.
#[derive(Default, Clone)]
pub(crate) struct Aligned {
    blocks: Vec<Align64>,
    len: usize,
}

impl Aligned {
    fn resize(&mut self, len: usize) -> &mut [f32] {
        let blocks = len.div_ceil(LINE_FLOATS);
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, Align64([0.0; LINE_FLOATS]));
        }
        self.len = len;
        self.as_mut_slice()
    }

    pub(crate) fn as_slice(&self) -> &[f32] {
        // SAFETY: `Align64` is 16 f32s without padding (repr(C), 64 bytes), so the vector's
        // blocks are `blocks.len() · 16 ≥ len` initialized, contiguous f32s.
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast::<f32>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

/// B packed for the kernels: panels of [`PANEL`] columns (zero past n), each k × 32 row-major
/// f32, or as AMX tiles.
#[derive(Default, Clone)]
pub struct PackedB {
    pub(crate) panels: Panels,
    pub(crate) precision: Precision,
    pub(crate) n: usize,
    pub(crate) k: usize,
}

#[derive(Clone)]
pub(crate) enum Panels {
    F32(Aligned),
    #[cfg(target_arch = "x86_64")]
    Tiles(crate::arch::amx::pack::TileB),
}

impl Default for Panels {
    fn default() -> Self {
        Panels::F32(Aligned::default())
    }
}

impl std::fmt::Debug for PackedB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedB({}×{})", self.n, self.k)
    }
}

impl PackedB {
    /// Packs `b` (n × k as the product sees it) for f32 products, on the kernel thread pool.
    pub fn new(n: usize, k: usize, b: BMatrix<'_>) -> Self {
        Self::with_precision(n, k, b, Precision::F32)
    }

    /// Packs `b` for products of the given precision, on the kernel thread pool.
    pub fn with_precision(n: usize, k: usize, b: BMatrix<'_>, precision: Precision) -> Self {
        Self::new_at(SimdLevel::detect(), n, k, b, precision)
    }

    /// [`Self::with_precision`] for the kernels of `level` (tests compare levels).
    pub fn new_at(level: SimdLevel, n: usize, k: usize, b: BMatrix<'_>, p: Precision) -> Self {
        let mut packed = PackedB {
            precision: p,
            ..Default::default()
        };
        packed.repack(n, k, b, p.tiles_at(level), true);
        packed
    }

    /// [`Self::with_precision`] on the calling thread.
    pub fn new_serial(n: usize, k: usize, b: BMatrix<'_>, precision: Precision) -> Self {
        let mut packed = PackedB {
            precision,
            ..Default::default()
        };
        packed.repack(n, k, b, precision.tiles_at(SimdLevel::detect()), false);
        packed
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The precision it was packed for.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match &self.panels {
            Panels::F32(data) => data.len * 4,
            #[cfg(target_arch = "x86_64")]
            Panels::Tiles(tiles) => tiles.bytes(),
        }
    }

    /// Packs `b` into this buffer (as tiles, or f32 panels reusing its memory). `tiles` only
    /// where [`Precision::tiles_at`] said so.
    pub(crate) fn repack(
        &mut self,
        n: usize,
        k: usize,
        b: BMatrix<'_>,
        tiles: bool,
        threaded: bool,
    ) {
        check_b(n, k, &b);
        self.n = n;
        self.k = k;
        #[cfg(target_arch = "x86_64")]
        if tiles {
            let panel = |dst: &mut [f32], j0: usize| pack_panel(dst, j0, n, k, &b);
            self.panels = Panels::Tiles(crate::arch::amx::pack::TileB::pack(n, k, panel, threaded));
            return;
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = tiles;
        if !matches!(self.panels, Panels::F32(_)) {
            self.panels = Panels::default();
        }
        // Off x86 the tile variant does not exist and the pattern cannot fail.
        #[cfg_attr(not(target_arch = "x86_64"), allow(irrefutable_let_patterns))]
        let Panels::F32(data) = &mut self.panels else {
            unreachable!("set above")
        };
        let panels = n.div_ceil(PANEL);
        let out = SendPtr::new(data.resize(panels * k * PANEL).as_mut_ptr());
        let pack = |panel: usize| {
            // SAFETY: the buffer holds `panels` panels of k × PANEL floats, and each call of
            // `pack` (one per panel) writes only its own.
            let dst = unsafe { out.slice_mut(panel * k * PANEL, k * PANEL) };
            pack_panel(dst, panel * PANEL, n, k, &b);
        };
        if threaded {
            parallel(panels, &pack);
        } else {
            (0..panels).for_each(pack);
        }
    }
}

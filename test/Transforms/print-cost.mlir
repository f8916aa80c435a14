// The cost report of the example model, derived from its shapes below.
// RUN: dsv3-opt %dsv3_src_root/examples/tiny_moe_forward.mlir --dsv3-print-cost -o /dev/null | FileCheck %s --check-prefix=TINY
// RUN: dsv3-opt %s --dsv3-print-cost | FileCheck %s

// tiny_moe_forward: B = 2, S = 16, hidden D = 32, T = B*S = 32 tokens, 4 heads
// of 8, vocabulary V = 256, E = 4 experts, top-2, expert and shared width
// F = 16, 2 layers.
//
// matmul (2*M*N*K), 17 = 2 layers * 8 + head:
//   q, k, v, o: 4 * 2*32*32*32            = 262144 per layer
//   router gate: 2*32*4*32                  =   8192
//   shared gate, up: 2 * 2*32*16*32         =  65536
//   shared down: 2*32*32*16                 =  32768
//   per layer 368640, 2 layers 737280; head 2*32*256*32 = 524288 -> 1261568
// grouped_matmul (2*R*K*N), R = T*top_k = 64 rows, 3 per layer:
//   gate, up: 2 * 2*64*32*16 = 131072; down 2*64*16*32 = 65536 -> 2 * 196608 = 393216
// attention (2*B*H*P*(Dqk+Dv) + 5*B*H*P), causal P = 16*17/2 = 136:
//   2*2*4*136*16 + 5*2*4*136 = 34816 + 5440 = 40256 per layer -> 80512
// rms_norm (4 per element of [2,16,32] = 1024): 5 norms -> 20480
// rope (3 per element of [2,16,4,8] = 1024): q and k per layer -> 4 * 3072 = 12288
// router (5 per logit of [32,4]): 2 * 640 = 1280
// moe_combine (2*T*K*D): 2*32*2*32 = 4096 per layer -> 8192
// silu, mul (1 per element): routed [64,16] + shared [32,16] = 1536 per layer -> 3072 each
// add (1 per element): h1 1024 + ffn [32,32] 1024 + h2 1024 -> 2 * 3072 = 6144
// cross_entropy (5 per logit of [2,16,256]): 40960
// embedding, reshape, moe_dispatch: 0
// total: 1261568 + 393216 + 80512 + 20480 + 12288 + 1280 + 8192 + 3072 + 3072
//        + 6144 + 40960 = 1830784
//
// embedding reads only the gathered rows: ids 2*16*4 + 1024 rows' floats * 4 = 4224.
// attention reads q, k, v and the segment ids: 3 * 4096 + 128 = 12416 per layer.

// TINY: cost of @forward: 68 ops, 1830784 FLOPs, 496864 bytes read, 289828 bytes written
// TINY-NEXT: dsv3.add                     count 6  flops 6144
// TINY-NEXT: dsv3.attention               count 2  flops 80512  read 24832
// TINY-NEXT: dsv3.cross_entropy           count 1  flops 40960
// TINY-NEXT: dsv3.embedding               count 1  flops 0  read 4224  written 4096
// TINY-NEXT: dsv3.grouped_matmul          count 6  flops 393216
// TINY-NEXT: dsv3.matmul                  count 17  flops 1261568
// TINY-NEXT: dsv3.moe_combine             count 2  flops 8192
// TINY-NEXT: dsv3.moe_dispatch            count 2  flops 0
// TINY-NEXT: dsv3.mul                     count 4  flops 3072
// TINY-NEXT: dsv3.reshape                 count 12  flops 0
// TINY-NEXT: dsv3.rms_norm                count 5  flops 20480
// TINY-NEXT: dsv3.rope                    count 4  flops 12288
// TINY-NEXT: dsv3.router                  count 2  flops 1280
// TINY-NEXT: dsv3.silu                    count 4  flops 3072

// One report per function; a fusion counts its body's FLOPs (add 32 + exp 32)
// but only its own bytes (2 inputs and 1 result of 32 f32 = 256 + 128).
// CHECK-LABEL: cost of @fused: 1 ops, 64 FLOPs, 256 bytes read, 128 bytes written
// CHECK-NEXT: dsv3.fusion                  count 1  flops 64  read 256  written 128
func.func @fused(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = dsv3.fusion ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>):
    %s = dsv3.add %x, %z : tensor<4x8xf32>
    %e = dsv3.exp %s : tensor<4x8xf32>
    dsv3.yield %e : tensor<4x8xf32>
  }
  return %y : tensor<4x8xf32>
}

// bf16 halves the bytes: [4,8] x [8,16] reads (32 + 128) * 2, writes 64 * 2.
// CHECK-LABEL: cost of @bf16_matmul: 1 ops, 1024 FLOPs, 320 bytes read, 128 bytes written
func.func @bf16_matmul(%a: tensor<4x8xbf16>, %b: tensor<8x16xbf16>) -> tensor<4x16xbf16> {
  %y = dsv3.matmul %a, %b : tensor<4x8xbf16>, tensor<8x16xbf16> -> tensor<4x16xbf16>
  return %y : tensor<4x16xbf16>
}

// The pass reports and leaves the IR alone.
// CHECK-LABEL: func.func @fused
// CHECK: dsv3.fusion

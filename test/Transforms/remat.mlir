// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=full | FileCheck %s --check-prefix=FULL
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=sqrt | FileCheck %s --check-prefix=SQRT
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=selective | FileCheck %s --check-prefix=SELECTIVE
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=none | FileCheck %s --check-prefix=NONE
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=full report" -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=some -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADPOLICY
// RUN: not dsv3-opt %s --dsv3-remat=policy=full -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOSTEP
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=budget -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOBUDGET
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=full budget=0.5" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BUDGETFULL
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=budget budget=0.5 exhaustive report" -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXHAUSTIVE
// NOBUDGET: error: dsv3-remat: policy=budget needs budget=
// BUDGETFULL: error: dsv3-remat: budget= is for policy=budget, not policy=full
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=budget budget=2.5" -o /dev/null 2>&1 | FileCheck %s --check-prefix=PARTBYTES
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=budget budget=0.5 exhaustive" -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOREPORT
// PARTBYTES: error: dsv3-remat: policy=budget needs budget=<bytes>, a whole number up to 2^62, or a fraction in (0, 1] of the peak without remat; got budget=2.5
// NOREPORT: error: dsv3-remat: exhaustive prints its comparison in the report; it needs report=true
// EXHAUSTIVE: error: dsv3-remat: exhaustive checks plans against the memory plan, which only dsv3-train-pipeline runs

// On its own the pass plans to its model's peak (no memory plan follows
// it): the whole peak recomputes nothing, a smaller budget recomputes
// something, and one below every plan's peak is an error.
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=budget budget=1.0 report" -o /dev/null | FileCheck %s --check-prefix=ALONE
// ALONE: budget {{[0-9]+}} bytes ({{[0-9.]+}} MiB): planned arena {{[0-9]+}} bytes ({{[0-9.]+}} MiB) (the model's peak: no memory plan in this pipeline)
// ALONE: budget: per layer model.layers.0=none model.layers.1=none model.layers.2=none
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=budget budget=0.95 report" -o /dev/null | FileCheck %s --check-prefix=ALONESMALL
// ALONESMALL: budget: recomputes {{[1-9][0-9]*}} FLOPs
// ALONESMALL: budget: per layer {{.*}}={{full|selective}}
// RUN: not dsv3-opt %s --dsv3-autodiff --dsv3-remat="policy=budget budget=10" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ALONELOW
// ALONELOW: error: dsv3-remat: budget 10 bytes (0.00 MiB) is below the minimum feasible peak: the least arena of the {{[0-9]+}} plans planned (among them the plan of the least modelled peak) is {{[0-9]+}} bytes ({{[0-9.]+}} MiB) (modelled)

// Recomputation changes nothing the step computes: every result of an
// interpreted step (loss, parameters, moments) is the same to the bit
// under each policy.
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.none
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=full --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.full
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=sqrt --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.sqrt
// RUN: diff %t.none %t.full
// RUN: dsv3-opt %s --dsv3-autodiff --dsv3-remat=policy=selective --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.selective
// RUN: diff %t.none %t.sqrt
// RUN: diff %t.none %t.selective
// RUN: FileCheck %s --check-prefix=DIGEST < %t.full
// DIGEST: result 0 (loss): tensor<f32>
// DIGEST-NEXT: digest 0x

// The same on a model of MLA (with q_lora_rank), MoE and MTP layers, two
// micro-batches each with its own backward: runs and groups stay within a
// micro-batch, the MTP module is a layer of its own, and selective
// recomputes the query up-projection (q_b_proj) in each backward.
// RUN: dsv3-compile %S/Inputs/micro_moe_accum.pbtxt --emit=train -o %t.accum.mlir
// RUN: dsv3-opt %t.accum.mlir --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.accum.none
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat=policy=full --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.accum.full
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat=policy=sqrt --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.accum.sqrt
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat=policy=selective --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.accum.selective
// RUN: diff %t.accum.none %t.accum.full
// RUN: diff %t.accum.none %t.accum.sqrt
// RUN: diff %t.accum.none %t.accum.selective
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat="policy=budget budget=0.85" --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.accum.budget
// RUN: diff %t.accum.none %t.accum.budget
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat="policy=budget budget=0.85 report" -o /dev/null | FileCheck %s --check-prefix=ACCUMBUDGET
// ACCUMBUDGET: budget: recomputes {{[1-9][0-9]*}} FLOPs
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat="policy=sqrt report" -o /dev/null | FileCheck %s --check-prefix=ACCUM
// ACCUM: remat of @train_step: policy sqrt, 6 layer runs in 4 recomputed groups
// ACCUM: recomputes model.layers.0 .. model.layers.1
// ACCUM-NEXT: recomputes model.layers.2
// ACCUM-NEXT: recomputes model.layers.0 .. model.layers.1
// ACCUM-NEXT: recomputes model.layers.2
// RUN: dsv3-opt %t.accum.mlir --dsv3-remat=policy=selective | FileCheck %s --check-prefix=QB
// QB-LABEL: func.func @train_step(
// QB-SAME: %[[QB:[^:]+]]: tensor<16x8xf32> {{.*}}"model.layers.0.self_attn.q_b_proj.weight"
// QB-COUNT-4: dsv3.matmul %{{[^,]*}}, %[[QB]] transpose_rhs
// QB-NOT: dsv3.matmul %{{[^,]*}}, %[[QB]] transpose_rhs

// Three layers of a residual stream: norm, projection, SiLU, add. The
// embedding and the head are outside the layers.
module attributes {dsv3.training = {lr = 1.0e-02 : f64, min_lr = 1.0e-03 : f64, warmup_steps = 1 : i64, total_steps = 10 : i64, clip_norm = 1.0 : f64, weight_decay = 0.0 : f64}} {
  func.func @forward(%emb: tensor<8x4xf32> {dsv3.name = "embed"},
                     %n0: tensor<4xf32> {dsv3.name = "model.layers.0.norm"}, %w0: tensor<4x4xf32> {dsv3.name = "model.layers.0.proj"},
                     %n1: tensor<4xf32> {dsv3.name = "model.layers.1.norm"}, %w1: tensor<4x4xf32> {dsv3.name = "model.layers.1.proj"},
                     %n2: tensor<4xf32> {dsv3.name = "model.layers.2.norm"}, %w2: tensor<4x4xf32> {dsv3.name = "model.layers.2.proj"},
                     %tokens: tensor<2x3xi32> {dsv3.batch = "tokens"}, %targets: tensor<2x3xi32> {dsv3.batch = "targets"}) -> tensor<f32> {
    %h0 = dsv3.embedding %emb[%tokens] : tensor<8x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32> loc("model.embed_tokens")
    %a0 = dsv3.rms_norm %h0, %n0, eps = 1.0e-06 : tensor<2x3x4xf32>, tensor<4xf32> loc("model.layers.0")
    %b0 = dsv3.matmul %a0, %w0 transpose_rhs : tensor<2x3x4xf32>, tensor<4x4xf32> -> tensor<2x3x4xf32> loc("model.layers.0")
    %c0 = dsv3.silu %b0 : tensor<2x3x4xf32> loc("model.layers.0")
    %h1 = dsv3.add %h0, %c0 : tensor<2x3x4xf32> loc("model.layers.0")
    %a1 = dsv3.rms_norm %h1, %n1, eps = 1.0e-06 : tensor<2x3x4xf32>, tensor<4xf32> loc("model.layers.1")
    %b1 = dsv3.matmul %a1, %w1 transpose_rhs : tensor<2x3x4xf32>, tensor<4x4xf32> -> tensor<2x3x4xf32> loc("model.layers.1")
    %c1 = dsv3.silu %b1 : tensor<2x3x4xf32> loc("model.layers.1")
    %h2 = dsv3.add %h1, %c1 : tensor<2x3x4xf32> loc("model.layers.1")
    %a2 = dsv3.rms_norm %h2, %n2, eps = 1.0e-06 : tensor<2x3x4xf32>, tensor<4xf32> loc("model.layers.2")
    %b2 = dsv3.matmul %a2, %w2 transpose_rhs : tensor<2x3x4xf32>, tensor<4x4xf32> -> tensor<2x3x4xf32> loc("model.layers.2")
    %c2 = dsv3.silu %b2 : tensor<2x3x4xf32> loc("model.layers.2")
    %h3 = dsv3.add %h2, %c2 : tensor<2x3x4xf32> loc("model.layers.2")
    %logits = dsv3.matmul %h3, %emb transpose_rhs : tensor<2x3x4xf32>, tensor<8x4xf32> -> tensor<2x3x8xf32> loc("lm_head")
    %loss = dsv3.cross_entropy %logits, %targets : tensor<2x3x8xf32>, tensor<2x3xi32> -> tensor<f32> loc("lm_head")
    return %loss : tensor<f32>
  }
}

// full: the backward of layer 2 starts from the head's gradient; just
// before its first op (the SiLU's gradient, from a sigmoid) the layer's norm, projection
// and SiLU input are computed again from its input %h2, and the backward
// reads only those copies. Layer 1 follows from %h1, layer 0 from the
// embedding. The forward's own values are read by the forward only.
// FULL-LABEL: func.func @train_step(
// FULL: %[[H0:.*]] = dsv3.embedding
// FULL: %[[A0:.*]] = dsv3.rms_norm %[[H0]]
// FULL: %[[B0:.*]] = dsv3.matmul %[[A0]]
// FULL: %[[H1:.*]] = dsv3.add %[[H0]]
// FULL: %[[A1:.*]] = dsv3.rms_norm %[[H1]]
// FULL: %[[H2:.*]] = dsv3.add %[[H1]]
// FULL: %[[A2:.*]] = dsv3.rms_norm %[[H2]]
// FULL: %[[B2:.*]] = dsv3.matmul %[[A2]]
// FULL: %[[H3:.*]] = dsv3.add %[[H2]]
// FULL: dsv3.cross_entropy_grad
// FULL: %[[RA2:.*]] = dsv3.rms_norm %[[H2]]
// FULL-NEXT: %[[RB2:.*]] = dsv3.matmul %[[RA2]]
// FULL-NEXT: dsv3.sigmoid %[[RB2]]
// FULL-NOT: %[[B2]]{{[ ,:]}}
// FULL-NOT: %[[A2]]{{[ ,:]}}
// FULL: dsv3.rms_norm_grad %[[H2]]
// FULL: %[[RA1:.*]] = dsv3.rms_norm %[[H1]]
// FULL-NEXT: %[[RB1:.*]] = dsv3.matmul %[[RA1]]
// FULL-NEXT: dsv3.sigmoid %[[RB1]]
// FULL: dsv3.rms_norm_grad %[[H1]]
// FULL: %[[RA0:.*]] = dsv3.rms_norm %[[H0]]
// FULL-NEXT: %[[RB0:.*]] = dsv3.matmul %[[RA0]]
// FULL-NEXT: dsv3.sigmoid %[[RB0]]
// FULL-NOT: %[[B0]]{{[ ,:]}}
// FULL-NOT: %[[A0]]{{[ ,:]}}
// FULL: dsv3.clip_by_global_norm

// sqrt: ceil(sqrt(3)) = 2 layers a group: layers 0 and 1 are recomputed
// together from %h0 (so %h1 is computed again), layer 2 from %h2.
// SQRT-LABEL: func.func @train_step(
// SQRT: %[[H0:.*]] = dsv3.embedding
// SQRT: %[[H1:.*]] = dsv3.add %[[H0]]
// SQRT: %[[H2:.*]] = dsv3.add %[[H1]]
// SQRT: dsv3.cross_entropy_grad
// SQRT: dsv3.rms_norm %[[H2]]
// SQRT: dsv3.sigmoid
// SQRT: dsv3.rms_norm_grad %[[H2]]
// SQRT: %[[RA0:.*]] = dsv3.rms_norm %[[H0]]
// SQRT-NEXT: %[[RB0:.*]] = dsv3.matmul %[[RA0]]
// SQRT-NEXT: %[[RC0:.*]] = dsv3.silu %[[RB0]]
// SQRT-NEXT: %[[RH1:.*]] = dsv3.add %[[H0]], %[[RC0]]
// SQRT-NEXT: %[[RA1:.*]] = dsv3.rms_norm %[[RH1]]
// SQRT-NEXT: %[[RB1:.*]] = dsv3.matmul %[[RA1]]
// SQRT-NEXT: dsv3.sigmoid %[[RB1]]
// SQRT: dsv3.rms_norm_grad %[[RH1]]
// SQRT: dsv3.sigmoid %[[RB0]]
// SQRT: dsv3.rms_norm_grad %[[H0]]

// selective: norms and SiLUs are recomputed, the projections' outputs
// (%B2, %B1, %B0) kept: the SiLU's gradient reads the forward's %B2, and
// its weight gradient a recomputed norm.
// SELECTIVE-LABEL: func.func @train_step(
// SELECTIVE: %[[H0:.*]] = dsv3.embedding
// SELECTIVE: %[[H1:.*]] = dsv3.add %[[H0]]
// SELECTIVE: %[[H2:.*]] = dsv3.add %[[H1]]
// SELECTIVE-NEXT: %[[A2:.*]] = dsv3.rms_norm %[[H2]]
// SELECTIVE-NEXT: %[[B2:.*]] = dsv3.matmul %[[A2]]
// SELECTIVE: dsv3.cross_entropy_grad
// SELECTIVE-NOT: %[[A2]]{{[ ,:]}}
// SELECTIVE: dsv3.sigmoid %[[B2]]
// SELECTIVE-NOT: %[[A2]]{{[ ,:]}}
// SELECTIVE: %[[RA2:.*]] = dsv3.rms_norm %[[H2]]
// SELECTIVE-NOT: %[[A2]]{{[ ,:]}}
// SELECTIVE: dsv3.reshape %[[RA2]]
// SELECTIVE-NOT: %[[A2]]{{[ ,:]}}
// SELECTIVE: dsv3.rms_norm_grad %[[H2]]
// SELECTIVE-NOT: %[[A2]]{{[ ,:]}}
// SELECTIVE: return

// none: nothing is computed twice.
// NONE-LABEL: func.func @train_step(
// NONE-COUNT-3: dsv3.rms_norm %
// NONE-NOT: dsv3.rms_norm %
// NONE: return

// REPORT: remat of @train_step: policy full, 3 layer runs in 3 recomputed groups
// REPORT-NEXT: peak live (one buffer per value, before fusion): [[PEAK0:[0-9]+]] bytes ({{.*}}) -> [[PEAK1:[0-9]+]] bytes
// REPORT-NEXT: kept for the backward: 1152 bytes ({{.*}}) -> 576 bytes
// REPORT-NEXT: recomputed: 6 ops, {{[1-9][0-9]*}} FLOPs ({{[0-9.]+}}% of the step's {{[0-9]+}})
// REPORT-NEXT: recomputes model.layers.0
// REPORT-NEXT: recomputes model.layers.1
// REPORT-NEXT: recomputes model.layers.2
// REPORT-NEXT: outside the layers keeps 2 values, 288 bytes {{.*}} (was 2, 288 bytes
// REPORT: model.layers.0 keeps 1 values, 96 bytes {{.*}} (was 3, 288 bytes
// REPORT: model.layers.2 keeps 1 values, 96 bytes {{.*}} (was 3, 288 bytes

// BADPOLICY: error: dsv3-remat: policy must be none, full, sqrt, selective or budget, got some
// NOSTEP: error: dsv3-remat: no function @train_step with a body

using System.ComponentModel;

namespace HpcAdam.Training;

/// <summary>
/// What a <see cref="DataParallelTrainer"/> is configured with, section by section: each property
/// is a configuration key (<c>Section:Key</c>) with the default a user gets when it is not set, and
/// its [Description] is what <c>--help</c> and docs/configuration.md print (<see cref="SettingKeys"/>).
/// A program with settings of its own (its model, its data) derives from this class and adds its
/// sections; <see cref="SettingsLoader"/> then reads and checks them all.
/// </summary>
public class TrainingSettings
{
    public BatchSettings Batch { get; set; } = new();
    public OptimizerSettings Optimizer { get; set; } = new();
    public TrainSettings Train { get; set; } = new();
    public RunSettings Run { get; set; } = new();
    public EvalSettings Eval { get; set; } = new();
    public CheckpointSettings Checkpoint { get; set; } = new();
    public TraceSettings Trace { get; set; } = new();
    public CheckSettings Check { get; set; } = new();
    public AdaptiveSettings Adaptive { get; set; } = new();
    public DeviceSettings Device { get; set; } = new();
    public CollectivesSettings Collectives { get; set; } = new();

    /// <summary>
    /// The settings a resume must not change, as (key, value): the global sample stream's and the
    /// optimizer's. A class that adds its model's and data's settings adds those keys too.
    /// </summary>
    public virtual IEnumerable<(string Key, object Value)> ResumeIdentity() =>
        [("Batch:MicroBatchSize", Batch.MicroBatchSize), ("Train:Seed", Train.Seed), ("Optimizer:Name", Optimizer.Name)];
}

public sealed class BatchSettings
{
    [Description("M, samples per micro-batch")]
    public int MicroBatchSize { get; set; } = 25;

    [Description("κ, micro-batches per optimizer step; the batch is B = κ·M")]
    public int Kappa { get; set; } = 4;
}

public sealed class OptimizerSettings
{
    [Description("bsi-adam, adam, micro-adam (κ = 1), adagrad or adagrad-norm")]
    public string Name { get; set; } = "bsi-adam";

    [Description("η, the learning rate at Optimizer:ReferenceKappa")]
    public double Lr { get; set; } = 1e-3;

    [Description("γ1 = 1 − β1, the rate of m's average, at the reference κ")]
    public double Gamma1 { get; set; } = 0.1;

    [Description("γ2 = 1 − β2, the rate of v's average, at the reference κ")]
    public double Gamma2 { get; set; } = 0.001;

    [Description("ε, added to √v̂ in the denominator")]
    public double Eps { get; set; } = 1e-8;

    [Description("λ, decoupled weight decay (AdamW): w ← (1 − η'λ)·w − …")]
    public double WeightDecay { get; set; }

    [Description("how η and γ follow κ: linear (BSI-Adam's invariance), sqrt or none")]
    public string Scaling { get; set; } = "linear";

    [Description("the κ Lr, Gamma1 and Gamma2 are given at; 0 = Batch:Kappa")]
    public int ReferenceKappa { get; set; }

    [Description("η along the samples seen, after WarmupSamples: constant, cosine, linear or step")]
    public string Schedule { get; set; } = "constant";

    [Description("samples of a linear warm-up of η from 0; 0 = none")]
    public long WarmupSamples { get; set; }

    [Description("the sample where cosine and linear reach LrEndFactor·Lr; 0 = the run's length")]
    public long ScheduleSamples { get; set; }

    [Description("η at the end of cosine and linear, as a fraction of Lr")]
    public double LrEndFactor { get; set; }

    [Description("step: samples between drops of η")]
    public long StepSamples { get; set; }

    [Description("step: η's factor at each drop")]
    public double StepFactor { get; set; } = 0.1;

    [Description("clip the step's mean gradient S1/κ to this L2 norm (S1 by s, S2 by s²); 0 = off")]
    public double ClipNorm { get; set; }
}

public sealed class TrainSettings
{
    [Description("run length in epochs, a budget of micro-batches an adaptive κ spends in fewer steps")]
    public int Epochs { get; set; } = 1;

    [Description("run length in optimizer steps; wins over Epochs when above 0")]
    public long Steps { get; set; }

    [Description("seed of the initial weights (drawn on rank 0) and of the sample stream")]
    public long Seed { get; set; }

    [Description("steps in a row with a non-finite loss or gradient before the job stops")]
    public int MaxSkips { get; set; } = 10;

    [Description("float32, or bfloat16: forward and backward in bfloat16 (batchnorm in float32), the optimizer on float32 master weights")]
    public string Precision { get; set; } = "float32";

    [Description("gather the next micro-batches on a background thread (and copy them to the GPU without blocking) while the step computes")]
    public bool Prefetch { get; set; } = true;
}

public sealed class RunSettings
{
    [Description("where rank 0 writes the run; empty = runs/<UTC time>; never an existing run unless resumed")]
    public string Dir { get; set; } = "";

    [Description("go on from a checkpoint: latest (the newest in Run:Dir; none yet starts fresh), a run folder or a checkpoint folder; empty = a fresh run")]
    public string Resume { get; set; } = "";

    [Description("hold an exclusive lock on the run (or sweep) folder, so a second job on it is refused; false only where the file system has no flock")]
    public bool Lock { get; set; } = true;

    [Description("also write TensorBoard event files (loss, lr, κ, noise scale, test metrics per step) to RUN/tensorboard")]
    public bool TensorBoard { get; set; }
}

public sealed class EvalSettings
{
    [Description("evaluate on the test set every N steps; 0 = only at the end")]
    public int Every { get; set; }

    [Description("test samples an evaluation uses, the first N of the test set; 0 = all")]
    public int Samples { get; set; }

    [Description("samples per forward pass of an evaluation: its activations set the peak memory of a rank")]
    public int BatchSize { get; set; } = 100;
}

public sealed class CheckpointSettings
{
    [Description("checkpoint every N steps; 0 = only at the end")]
    public int Every { get; set; }

    [Description("keep the newest N checkpoints, deleting older ones once a newer one is complete; 0 = keep all")]
    public int Keep { get; set; } = 3;

    [Description("never delete a checkpoint whose step is a multiple of N (milestones); 0 = none")]
    public int KeepEvery { get; set; }
}

public sealed class TraceSettings
{
    [Description("write samples.jsonl (each step's micro-batches) and initial.safetensors")]
    public bool Samples { get; set; }

    [Description("every rank writes its model, weights and buffers, after every step to trace/model.rank-R.step-S.safetensors")]
    public bool Model { get; set; }
}

public sealed class CheckSettings
{
    [Description("every N steps, compare a checksum of each rank's weights, buffers and optimizer state with rank 0's; 0 = at the start and the end only")]
    public int Every { get; set; }

    [Description("end the job when a collective has not completed after this many seconds; 0 = never")]
    public int TimeoutSeconds { get; set; } = 600;
}

public sealed class AdaptiveSettings
{
    [Description("grow κ when this test fails: none, norm, inner-product, augmented or coordinate")]
    public string Test { get; set; } = "none";

    [Description("η_n of the norm and coordinate tests (AdAdaGrad uses 0.1 to 0.5)")]
    public double Eta { get; set; } = 0.1;

    [Description("θ of the inner-product test")]
    public double Theta { get; set; } = 0.9;

    [Description("ν of the orthogonality test (part of the augmented test)")]
    public double Nu { get; set; } = 5.84;

    [Description("the largest κ; 0 = the micro-batches of one epoch")]
    public int MaxKappa { get; set; }

    [Description("run the test every N steps")]
    public int TestEvery { get; set; } = 1;

    [Description("keep η' and γ' at their Batch:Kappa values as κ grows (AdAdaGrad's practice)")]
    public bool HoldHyperparameters { get; set; }

    [Description("EMA rate of the noise scale's numerator and denominator")]
    public double Smoothing { get; set; } = 0.1;
}

public sealed class DeviceSettings
{
    [Description("where each rank trains: auto (a GPU when CUDA is usable, else the CPU), cpu, or cuda (GPU LocalRank mod the visible devices)")]
    public string Name { get; set; } = "auto";

    [Description("let a node run more ranks than it has visible GPUs, which then share them; refused otherwise")]
    public bool Share { get; set; }
}

public sealed class CollectivesSettings
{
    [Description("what sums the step's buffer: auto (NCCL on GPUs where libnccl.so.2 loads, else MPI), mpi, or nccl")]
    public string Backend { get; set; } = "auto";

    [Description("what S2, the sum of the squared gradients, travels in: float32, or bfloat16 (rounded before the sum and widened after it; S1 and S2 then take 6 bytes per parameter instead of 8)")]
    public string SquaresPrecision { get; set; } = "float32";

    [Description("MiB of S1 in each bucket of the step's all-reduce (with as many elements of S2): the statistics and the optimizer take each bucket as it arrives while the next is in flight; 0, or a model no larger, sums the whole buffer in one call")]
    public double BucketMiB { get; set; } = 25;
}

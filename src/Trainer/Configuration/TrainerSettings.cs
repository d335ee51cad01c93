namespace HpcAdam.Trainer.Configuration;

/// <summary>
/// Everything a training run is configured with, section by section; each property is a
/// configuration key (<c>Section:Key</c>), with the default a user gets when it is not set.
/// </summary>
internal sealed class TrainerSettings
{
    public ModelSettings Model { get; set; } = new();
    public DataSettings Data { get; set; } = new();
    public BatchSettings Batch { get; set; } = new();
    public OptimizerSettings Optimizer { get; set; } = new();
    public TrainSettings Train { get; set; } = new();
    public RunSettings Run { get; set; } = new();
    public EvalSettings Eval { get; set; } = new();
    public CheckpointSettings Checkpoint { get; set; } = new();
    public TraceSettings Trace { get; set; } = new();
    public CheckSettings Check { get; set; } = new();
    public AdaptiveSettings Adaptive { get; set; } = new();
    public SweepSettings Sweep { get; set; } = new();
}

internal sealed class ModelSettings
{
    /// <summary>mlp, cnn, resnet18 or vit.</summary>
    public string Name { get; set; } = "mlp";

    /// <summary>The MLP's hidden widths, comma-separated ("256" or "512,256").</summary>
    public string Hidden { get; set; } = "256";

    /// <summary>ResNet-18's normalisation: batchnorm or layernorm (the paper's Fig. 1 and Fig. 2).</summary>
    public string Norm { get; set; } = "batchnorm";

    /// <summary>ViT: side of the square patches; must divide the image side.</summary>
    public int PatchSize { get; set; } = 4;

    /// <summary>ViT: transformer blocks.</summary>
    public int Depth { get; set; } = 6;

    /// <summary>ViT: embedding width; a multiple of Heads.</summary>
    public int Width { get; set; } = 192;

    /// <summary>ViT: attention heads (each with QK-layernorm).</summary>
    public int Heads { get; set; } = 3;
}

internal sealed class DataSettings
{
    /// <summary>mnist, fashion-mnist, cifar10 or synthetic.</summary>
    public string Name { get; set; } = "mnist";

    /// <summary>The folder scripts/fetch-data.sh fills.</summary>
    public string Dir { get; set; } = "data";
}

internal sealed class BatchSettings
{
    /// <summary>M, samples per micro-batch.</summary>
    public int MicroBatchSize { get; set; } = 25;

    /// <summary>κ, micro-batches per optimizer step; the mini-batch is κ·M.</summary>
    public int Kappa { get; set; } = 4;
}

internal sealed class OptimizerSettings
{
    /// <summary>bsi-adam, adam, micro-adam, adagrad or adagrad-norm.</summary>
    public string Name { get; set; } = "bsi-adam";

    /// <summary>η at the reference κ.</summary>
    public double Lr { get; set; } = 1e-3;

    /// <summary>γ1 = 1 − β1 at the reference κ.</summary>
    public double Gamma1 { get; set; } = 0.1;

    /// <summary>γ2 = 1 − β2 at the reference κ.</summary>
    public double Gamma2 { get; set; } = 0.001;

    public double Eps { get; set; } = 1e-8;

    /// <summary>λ, decoupled.</summary>
    public double WeightDecay { get; set; }

    /// <summary>linear, sqrt or none.</summary>
    public string Scaling { get; set; } = "linear";

    /// <summary>The κ at which Lr, Gamma1 and Gamma2 are given; 0 means Batch:Kappa.</summary>
    public int ReferenceKappa { get; set; }
}

internal sealed class TrainSettings
{
    public int Epochs { get; set; } = 1;

    /// <summary>Total optimizer steps of the run; 0 means as many as Epochs allow.</summary>
    public long Steps { get; set; }

    public long Seed { get; set; }

    /// <summary>Steps in a row skipped for a non-finite loss or gradient before the job stops.</summary>
    public int MaxSkips { get; set; } = 10;
}

internal sealed class RunSettings
{
    /// <summary>Where rank 0 writes config.json, metrics and checkpoints; empty means a new runs/&lt;UTC time&gt;.</summary>
    public string Dir { get; set; } = "";
}

internal sealed class EvalSettings
{
    /// <summary>Evaluate every this many steps; 0 = only at the end.</summary>
    public int Every { get; set; }
}

internal sealed class CheckpointSettings
{
    /// <summary>Checkpoint every this many steps; 0 = only at the end.</summary>
    public int Every { get; set; }
}

internal sealed class TraceSettings
{
    /// <summary>Write samples.jsonl (each step's micro-batches) and initial.safetensors.</summary>
    public bool Samples { get; set; }
}

internal sealed class CheckSettings
{
    /// <summary>Compare a checksum of weights and optimizer state across ranks every this many steps; 0 = only at the end.</summary>
    public int Every { get; set; }

    /// <summary>Abort the job when a collective has not completed after this many seconds; 0 = never.</summary>
    public int TimeoutSeconds { get; set; } = 600;
}

/// <summary>The adaptive batch size (ALGORITHMS.md, "Adaptive batch size"): κ grows when a test on the step's statistics fails.</summary>
internal sealed class AdaptiveSettings
{
    /// <summary>none, norm, inner-product, augmented or coordinate.</summary>
    public string Test { get; set; } = "none";

    /// <summary>η_n of the norm and coordinate tests (AdAdaGrad uses 0.1 to 0.5).</summary>
    public double Eta { get; set; } = 0.1;

    /// <summary>θ of the inner-product test.</summary>
    public double Theta { get; set; } = 0.9;

    /// <summary>ν of the orthogonality test (part of the augmented test).</summary>
    public double Nu { get; set; } = 5.84;

    /// <summary>The largest κ; 0 means the micro-batches of one epoch (the whole training set).</summary>
    public int MaxKappa { get; set; }

    /// <summary>Run the test every this many steps.</summary>
    public int TestEvery { get; set; } = 1;

    /// <summary>Keep η' and γ' at their Batch:Kappa values when κ grows (AdAdaGrad's practice) instead of following the scaling rule.</summary>
    public bool HoldHyperparameters { get; set; }

    /// <summary>EMA rate of the noise scale's numerator and denominator (noise_scale in the metrics).</summary>
    public double Smoothing { get; set; } = 0.1;
}

/// <summary>`hpcadam sweep` (the paper's §5 grid); `hpcadam train` ignores this section.</summary>
internal sealed class SweepSettings
{
    /// <summary>κ values over Batch:MicroBatchSize, comma-separated; B_max = M·max κ.</summary>
    public string Kappas { get; set; } = "1,2,4,8,16,32";

    /// <summary>Base learning rates η0 at B_max, comma-separated.</summary>
    public string Lrs { get; set; } = "1e-4,1e-3,1e-2";

    /// <summary>Samples every run trains on; a multiple of B_max.</summary>
    public long Samples { get; set; } = 60000;

    /// <summary>Evaluate (and average the train loss) every this many samples; a multiple of B_max dividing Samples.</summary>
    public long EvalEverySamples { get; set; } = 6000;

    /// <summary>A gap under this counts as invariant (for the critical learning rate).</summary>
    public double Threshold { get; set; } = 0.1;

    /// <summary>The sweep's folder: one run folder per grid point, curves.csv, invariance.json, invariance.png; empty means sweeps/&lt;UTC time&gt;.</summary>
    public string Dir { get; set; } = "";
}
